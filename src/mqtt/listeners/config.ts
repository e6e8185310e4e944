// PLACEHOLDER until the TLS/WebSocket listeners land: [listeners.ssl.*], [listeners.ws.*], [listeners.wss.*].
export const listenersConfigShape = {};
