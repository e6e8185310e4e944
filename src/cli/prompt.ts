// Reading a secret for outpostctl: from a flag, from stdin (scripts), or from the terminal without echo.
import { createInterface } from 'node:readline';
import { CliError, EXIT } from './client.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function promptHidden(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo nothing but the prompt itself while the secret is typed.
  const r = rl as unknown as { _writeToOutput?: (s: string) => void };
  let prompted = false;
  r._writeToOutput = (s: string) => {
    if (!prompted) {
      process.stderr.write(s);
      prompted = true;
    }
  };
  try {
    return await new Promise<string>((resolve) => rl.question(prompt, resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

export async function readSecret(o: { value?: string | undefined; fromStdin?: boolean | undefined; prompt: string; confirm?: boolean }): Promise<string> {
  if (o.value !== undefined) return o.value;
  if (o.fromStdin) return readStdin();
  if (!process.stdin.isTTY) throw new CliError('no password given: pass --password-stdin and pipe it in, or run from a terminal', EXIT.USAGE);
  const first = await promptHidden(o.prompt);
  if (o.confirm) {
    const again = await promptHidden('Again: ');
    if (again !== first) throw new CliError('the two passwords differ');
  }
  return first;
}
