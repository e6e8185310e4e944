// Aedes on a plain net server, for side-by-side runs: `node aedes-server.mjs --port N [--host 127.0.0.1]`.
// Default options (in-memory persistence and mqemitter), as a user gets from the README example.
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});

const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
server.listen(Number(values.port), values.host, () => {
  const addr = server.address();
  process.stdout.write(`aedes listening on ${addr.address}:${addr.port}\n`);
});

const stop = () => {
  server.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
