// The house plan's import direction (README, Layout), checked by `npm run check:imports` in .ci/run.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'Modules form layers: a runtime import cycle means two of them should be one, or a piece belongs lower down. Type-only cycles (a schema module and the checks it composes) cost nothing at run time.',
      severity: 'error',
      from: { path: '^(src|gateways)/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'core-is-the-ground-floor',
      comment: 'src/core (Message, QoS, hook interfaces, metrics) imports nothing of the project above it.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^(src|gateways)/', pathNot: '^src/core/' },
    },
    {
      name: 'store-stands-on-core',
      comment: 'The store knows messages, not the broker, auth or any front.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^(src|gateways)/', pathNot: '^src/(core|store)/' },
    },
    {
      name: 'auth-stands-on-core-and-store',
      severity: 'error',
      from: { path: '^src/auth/' },
      to: { path: '^(src|gateways)/', pathNot: '^src/(core|store|auth|config/result)' },
    },
    {
      name: 'broker-knows-no-front',
      comment: 'The broker is protocol-agnostic: no MQTT front, gateway, bridge, admin, CLI or runtime.',
      severity: 'error',
      from: { path: '^src/broker/' },
      to: { path: '^(gateways/|src/(mqtt|bridge|admin|cli|runtime)/)' },
    },
    {
      name: 'fronts-do-not-import-each-other',
      comment: 'MQTT, bridge and admin call into the broker, never into each other or into runtime.',
      severity: 'error',
      from: { path: '^src/(mqtt|bridge)/' },
      to: { path: '^(gateways/|src/(admin|cli|runtime)/)' },
    },
    {
      name: 'nothing-calls-up-into-runtime',
      severity: 'error',
      from: { path: '^(src|gateways)/', pathNot: '^src/runtime/' },
      to: { path: '^src/runtime/' },
    },
    {
      name: 'gateway-one-door',
      comment: 'A gateway imports gateways/gateway.ts, the shared transports and codecs, and its own folder only.',
      severity: 'error',
      from: { path: '^gateways/([^/]+)/', pathNot: '^gateways/(transport|codecs)/' },
      to: { path: '^(src/|gateways/)', pathNot: ['^gateways/gateway\\.ts$', '^gateways/(transport|codecs)/', '^gateways/$1/'] },
    },
    {
      name: 'shared-codecs-are-pure',
      comment: 'gateways/codecs holds codecs that several gateways share (CoAP for CoAP and LwM2M): no I/O, no project imports.',
      severity: 'error',
      from: { path: '^gateways/codecs/' },
      to: { path: '^(src/|gateways/)', pathNot: '^gateways/codecs/' },
    },
    {
      name: 'transport-knows-no-gateway',
      severity: 'error',
      from: { path: '^gateways/transport/' },
      to: { path: '^(src/|gateways/)', pathNot: ['^gateways/gateway\\.ts$', '^gateways/transport/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
  },
};
