// MQTT 5 reason codes used by the front end (MQTT 5 §2.4) and their v3 CONNACK equivalents.
import type { DisconnectReason } from '../core/types.js';

export const RC = {
  SUCCESS: 0x00,
  NO_MATCHING_SUBSCRIBERS: 0x10,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  DISCONNECT_WITH_WILL: 0x04,
  UNSPECIFIED_ERROR: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_ID_NOT_VALID: 0x85,
  BAD_USERNAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  BANNED: 0x8a,
  SERVER_SHUTTING_DOWN: 0x8b,
  BAD_AUTH_METHOD: 0x8c,
  KEEPALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_ID_IN_USE: 0x91,
  PACKET_ID_NOT_FOUND: 0x92,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  QUOTA_EXCEEDED: 0x97,
  ADMINISTRATIVE_ACTION: 0x98,
  PAYLOAD_FORMAT_INVALID: 0x99,
  RETAIN_NOT_SUPPORTED: 0x9a,
  QOS_NOT_SUPPORTED: 0x9b,
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: 0x9e,
  CONNECTION_RATE_EXCEEDED: 0x9f,
  SUBSCRIPTION_IDS_NOT_SUPPORTED: 0xa1,
  WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: 0xa2,
} as const;

/** v3.1.1 CONNACK return codes for a v5 reason (MQTT 3.1.1 §3.2.2.3). */
export function v3ConnackCode(v5: number): number {
  switch (v5) {
    case RC.SUCCESS:
      return 0;
    case RC.UNSUPPORTED_PROTOCOL_VERSION:
      return 1;
    case RC.CLIENT_ID_NOT_VALID:
      return 2;
    case RC.SERVER_UNAVAILABLE:
    case RC.SERVER_BUSY:
    case RC.SERVER_SHUTTING_DOWN:
      return 3;
    case RC.BAD_USERNAME_OR_PASSWORD:
      return 4;
    default:
      return 5;
  }
}

/** The DISCONNECT reason code a v5 client gets when the broker ends its connection. */
export function disconnectCode(r: DisconnectReason): number {
  switch (r) {
    case 'takenover':
    case 'discarded':
      return RC.SESSION_TAKEN_OVER;
    case 'kicked':
      return RC.ADMINISTRATIVE_ACTION;
    case 'banned':
      return RC.BANNED;
    case 'server_shutdown':
      return RC.SERVER_SHUTTING_DOWN;
    case 'keepalive_timeout':
      return RC.KEEPALIVE_TIMEOUT;
    case 'not_authorized':
      return RC.NOT_AUTHORIZED;
    case 'frame_too_large':
      return RC.PACKET_TOO_LARGE;
    case 'malformed_packet':
      return RC.MALFORMED_PACKET;
    case 'protocol_error':
      return RC.PROTOCOL_ERROR;
    case 'quota_exceeded':
      return RC.QUOTA_EXCEEDED;
    default:
      return RC.UNSPECIFIED_ERROR;
  }
}
