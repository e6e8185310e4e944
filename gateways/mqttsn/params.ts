// MQTT-SN constants with their derivation (gateways/mqttsn/SPEC.md).
/** Predefined ids use 1..1024, so dynamic (normal) ids start above them, as in EMQX (spec §2). */
export const FIRST_DYNAMIC_TOPIC_ID = 1025;
export const MAX_TOPIC_ID = 0xffff;
/** Length of the client id generated for an empty CONNECT ClientId (EMQX: 16 random chars, spec §4). */
export const GENERATED_CLIENTID_LEN = 16;
/** Largest sleep Duration the 16-bit field carries (MQTT-SN 1.2 §5.4.21). */
export const MAX_SLEEP_DURATION = 0xffff;
/** Client id of QoS -1 publishers without a connection (EMQX `NegQoS-Client`, spec §6). */
export const NEGQOS_CLIENTID = 'NegQoS-Client';
export const PROTO_VER = '1.2';
