// Compiles functions/core/record-scan.c to WebAssembly and writes functions/core/record-scan-wasm.ts,
// the module as Base64 with the SHA-256 of the source it was built from (test/unit/record-scan.test.ts
// checks that they still match). Needs clang and wasm-ld (Debian: `apt-get install clang lld`); the
// module is committed, so building or running cutover-watch does not.
//
//   node scripts/build-record-scan.mjs
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'functions', 'core', 'record-scan.c');
const out = path.join(root, 'functions', 'core', 'record-scan-wasm.ts');
const work = mkdtempSync(path.join(os.tmpdir(), 'record-scan-'));
try {
  const wasm = path.join(work, 'record-scan.wasm');
  // SIMD for the strings; bulk memory so that clearing the ranges is `memory.fill`, not a call to a memset there is none of.
  execFileSync('clang', ['--target=wasm32', '-O3', '-msimd128', '-mbulk-memory', '-nostdlib', '-Wl,--no-entry', '-o', wasm, source], { stdio: 'inherit' });
  const bytes = readFileSync(wasm);
  const sourceHash = createHash('sha256').update(readFileSync(source)).digest('hex');
  writeFileSync(
    out,
    `// Written by scripts/build-record-scan.mjs from record-scan.c: do not edit.\n` +
      `/** The SHA-256 of the record-scan.c this module was built from. */\n` +
      `export const RECORD_SCAN_SOURCE_SHA256 = '${sourceHash}';\n` +
      `/** The WebAssembly module (${bytes.length} bytes), Base64. */\n` +
      `export const RECORD_SCAN_WASM = '${bytes.toString('base64')}';\n`,
  );
  console.log(`${path.relative(root, out)}: ${bytes.length} bytes of WebAssembly from ${path.relative(root, source)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
