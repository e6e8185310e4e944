// Load generator process of the STOMP benchmark (forked by stomp.mjs): raw STOMP 1.2 over TCP, no client
// library, so the generator costs the same against every broker. Roles:
//   sub <port>                 one connection, SUBSCRIBE /topic/bench ack:auto, counts MESSAGE frames
//   pub <port> <conns> <size>  `conns` connections sending SEND frames as fast as the broker takes them, with
//                              a receipt every RECEIPT_EVERY frames and at most WINDOW receipts outstanding
//                              (flow control both brokers honour the same way)
// Counts go to the driver over IPC every 200 ms. Frame bodies carry no NUL, so frames are counted by NULs.
import net from 'node:net';

const [role, portArg, connsArg, sizeArg] = process.argv.slice(2);
const port = Number(portArg);
const RECEIPT_EVERY = 100;
const WINDOW = 10;
const DEST = '/topic/bench';
const CONNECT = 'CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0';

let count = 0;
setInterval(() => process.send?.({ role, count }), 200).unref();
process.on('message', (m) => {
  if (m === 'stop') process.exit(0);
});

function countNuls(buf) {
  let n = 0;
  let i = buf.indexOf(0);
  while (i >= 0) {
    n++;
    i = buf.indexOf(0, i + 1);
  }
  return n;
}

function open(onReady) {
  const s = net.connect(port, '127.0.0.1');
  s.setNoDelay(true);
  s.on('error', (e) => {
    process.send?.({ role, error: e.message });
    process.exit(1);
  });
  s.write(CONNECT);
  let connected = false;
  let pre = Buffer.alloc(0);
  const onData = (b) => {
    if (connected) return;
    pre = Buffer.concat([pre, b]);
    const nul = pre.indexOf(0);
    if (nul < 0) return;
    if (!pre.subarray(0, 10).toString().startsWith('CONNECTED')) {
      process.send?.({ role, error: `refused: ${pre.toString().slice(0, 200)}` });
      process.exit(1);
    }
    connected = true;
    s.off('data', onData);
    onReady(s, pre.subarray(nul + 1));
  };
  s.on('data', onData);
}

if (role === 'sub') {
  open((s) => {
    s.write(`SUBSCRIBE\nid:0\ndestination:${DEST}\nack:auto\nreceipt:ready\n\n\0`);
    let ready = false;
    s.on('data', (b) => {
      let n = countNuls(b);
      if (!ready && n > 0) {
        // The first NUL after SUBSCRIBE ends its RECEIPT.
        ready = true;
        n--;
        process.send?.({ role, ready: true });
      }
      count += n;
    });
  });
} else if (role === 'pub') {
  const conns = Number(connsArg);
  const size = Number(sizeArg);
  const body = 'x'.repeat(size);
  const plain = Buffer.from(`SEND\ndestination:${DEST}\ncontent-length:${size}\n\n${body}\0`);
  const frames = [];
  // One batch: RECEIPT_EVERY frames, the last one asking for a receipt.
  for (let i = 0; i < RECEIPT_EVERY - 1; i++) frames.push(plain);
  for (let c = 0; c < conns; c++) {
    open((s) => {
      let outstanding = 0;
      let seq = 0;
      const pump = () => {
        while (outstanding < WINDOW) {
          const last = Buffer.from(`SEND\ndestination:${DEST}\nreceipt:${++seq}\ncontent-length:${size}\n\n${body}\0`);
          s.write(Buffer.concat([...frames, last]));
          outstanding++;
        }
      };
      s.on('data', (b) => {
        const n = countNuls(b);
        outstanding -= n;
        count += n * RECEIPT_EVERY;
        pump();
      });
      pump();
    });
  }
} else {
  console.error(`unknown role ${role}`);
  process.exit(2);
}
