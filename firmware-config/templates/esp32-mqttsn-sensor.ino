// Example Arduino (ESP32 core) sketch for a sensor paired with Outpost over MQTT-SN/UDP.
// Pairing writes mqttsn-sensor.h next to this file (from mqttsn-sensor.h.tmpl); WiFi credentials
// stay in wifi-secrets.h, which pairing does not know. The same frames work from ESP-IDF with
// lwIP sockets: only the UDP calls differ.
//
// It connects (CleanSession=0, so commands queued while it sleeps are delivered on wake-up),
// subscribes to the predefined command topic and publishes a reading every 60 s at QoS 1 on the
// predefined publish topic. Frame layouts: MQTT-SN 1.2 §5.4.
#include <WiFi.h>
#include <WiFiUdp.h>
#include "mqttsn-sensor.h"
#include "wifi-secrets.h"  // #define WIFI_SSID "..." / #define WIFI_PASSWORD "..."

static WiFiUDP udp;
static uint16_t msgId = 1;

static void sendFrame(const uint8_t *buf, size_t len) {
  udp.beginPacket(OUTPOST_MQTTSN_HOST, OUTPOST_MQTTSN_PORT);
  udp.write(buf, len);
  udp.endPacket();
}

// CONNECT: Length, 0x04, Flags (CleanSession=0), ProtocolId 0x01, Duration, ClientId (§5.4.4).
static void sendConnect() {
  uint8_t buf[6 + 23];
  size_t idLen = strlen(OUTPOST_CLIENT_ID);
  buf[0] = 6 + idLen;
  buf[1] = 0x04;
  buf[2] = 0x00;
  buf[3] = 0x01;
  buf[4] = OUTPOST_KEEPALIVE_S >> 8;
  buf[5] = OUTPOST_KEEPALIVE_S & 0xff;
  memcpy(buf + 6, OUTPOST_CLIENT_ID, idLen);
  sendFrame(buf, buf[0]);
}

// SUBSCRIBE to a predefined id: Flags QoS 1 | TopicIdType 01 (§5.4.15).
static void sendSubscribe(uint16_t topicId) {
  uint8_t buf[7] = {7, 0x12, 0x21, (uint8_t)(msgId >> 8), (uint8_t)msgId, (uint8_t)(topicId >> 8), (uint8_t)topicId};
  msgId++;
  sendFrame(buf, sizeof buf);
}

// PUBLISH QoS 1 to a predefined id (§5.4.12). This sketch does not track the PUBACK; real firmware
// resends with DUP after T_retry (§6.13).
static void sendPublish(uint16_t topicId, const char *payload) {
  uint8_t buf[64];
  size_t n = strlen(payload);
  if (n > sizeof buf - 7) n = sizeof buf - 7;
  buf[0] = 7 + n;
  buf[1] = 0x0C;
  buf[2] = 0x21;
  buf[3] = topicId >> 8;
  buf[4] = topicId & 0xff;
  buf[5] = msgId >> 8;
  buf[6] = msgId & 0xff;
  msgId++;
  memcpy(buf + 7, payload, n);
  sendFrame(buf, buf[0]);
}

void setup() {
  Serial.begin(115200);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  while (WiFi.status() != WL_CONNECTED) delay(250);
  udp.begin(0);
  sendConnect();
}

void loop() {
  static uint32_t lastPublish = 0;
  static bool connected = false;
  uint8_t in[128];
  int len = udp.parsePacket() ? udp.read(in, sizeof in) : 0;
  if (len >= 3 && in[1] == 0x05 && in[2] == 0x00 && !connected) {  // CONNACK accepted
    connected = true;
    sendSubscribe(OUTPOST_TOPIC_ID_COMMAND);
  } else if (len >= 7 && in[1] == 0x0C) {  // PUBLISH from the gateway: a command
    Serial.printf("command on %s: %.*s\n", OUTPOST_TOPIC_COMMAND, len - 7, (const char *)in + 7);
    if ((in[2] & 0x60) == 0x20) {  // QoS 1: PUBACK with the same topic id and MsgId (§5.4.13)
      uint8_t ack[7] = {7, 0x0D, in[3], in[4], in[5], in[6], 0x00};
      sendFrame(ack, sizeof ack);
    }
  }
  if (connected && millis() - lastPublish > 60000) {
    lastPublish = millis();
    char reading[32];
    snprintf(reading, sizeof reading, "{\"t\":%.1f}", temperatureRead());
    sendPublish(OUTPOST_TOPIC_ID_PUBLISH, reading);
  }
  // PINGREQ at half the keepalive keeps the gateway from closing the session (§6.6).
  static uint32_t lastPing = 0;
  if (connected && millis() - lastPing > OUTPOST_KEEPALIVE_S * 500UL) {
    lastPing = millis();
    uint8_t ping[2] = {2, 0x16};
    sendFrame(ping, 2);
  }
}
