// `npm test`: the type check and the test run side by side. Their start-ups do not fill two cores
// (vitest builds the CLI, starts the shared demo and loads its workers; tsc reads the program), so
// one after the other cost the type check's whole time (4–6 s) on top of the run's; beside it, a
// second or two. Either failing fails the command; the type check's findings print after the tests.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
/** A dependency's command, as npm links it into node_modules/.bin (its package.json `bin`). */
const bin = (pkg, name) => {
  const manifest = require.resolve(`${pkg}/package.json`);
  return path.join(path.dirname(manifest), require(manifest).bin[name]);
};

const typecheck = new Promise((resolve) => {
  const tsc = spawn(process.execPath, [bin('typescript', 'tsc'), '-p', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  tsc.stdout.on('data', (chunk) => (output += chunk));
  tsc.stderr.on('data', (chunk) => (output += chunk));
  tsc.on('close', (code) => resolve({ code: code ?? 1, output }));
});

const tests = await new Promise((resolve) => {
  const vitest = spawn(process.execPath, [bin('vitest', 'vitest'), 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
  vitest.on('close', (code) => resolve(code ?? 1));
});

const checked = await typecheck;
if (checked.code !== 0) {
  process.stderr.write(`\ntsc -p . found type errors:\n${checked.output}`);
  process.stderr.write('npm test fails: the type check did not pass.\n');
}
process.exitCode = tests !== 0 ? tests : checked.code;
