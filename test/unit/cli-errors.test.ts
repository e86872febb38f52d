/**
 * What the CLI prints when something goes wrong, and the lines it builds from store values: one
 * line each, with nothing a terminal acts on (names come from records, files and the store), and
 * the documented exit code. All in-process: no command here reaches a store.
 */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { emptyInventory } from '../../functions/core/inventory';
import { printUnmappedIssuers } from '../../functions/local/cli/commands/analyze';
import { printCoverage } from '../../functions/local/cli/commands/coverage';
import { UsageError, type Io } from '../../functions/local/cli/io';
import { execute, run } from '../../functions/local/cli/main';
import { collectNodeRole } from '../../functions/local/cli/options';

/** Characters a terminal acts on or that hide text: none may reach a printed line. */
const RAW = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/;
/** Clears the screen, sets the window title, reverses the rest of the line. */
const HOSTILE = 'x\u001b[2J\u001b]0;owned\u0007\u202eevil\nforged line';

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'cw-cli-errors-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

function recordingIo(): Io & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return {
    outLines,
    errLines,
    out: (l) => void outLines.push(l),
    err: (l) => void errLines.push(l),
    stdin: new PassThrough(),
    progressStream: new PassThrough(),
    interactive: false,
    cwd,
    now: () => new Date('2026-11-20T00:00:00Z'),
  };
}

/** Every printed line split at real line breaks: each must be free of raw controls. */
const printed = (lines: readonly string[]) => lines.flatMap((l) => l.split('\n'));

describe('top-level errors', () => {
  const failing = (error: unknown) => {
    const program = new Command('cutover-watch');
    program.command('boom').action(() => {
      throw error;
    });
    return program;
  };

  it.each([
    ['an unexpected error', 1, new Error(HOSTILE)],
    ['a usage error', 2, new UsageError(`cannot read ${HOSTILE}`)],
  ])('%s is one line with its controls written out, exit %i', async (_what, code, error) => {
    const io = recordingIo();
    expect(await execute(failing(error), ['boom'], io, () => 0)).toBe(code);
    expect(io.errLines[0]).toBe(`cutover-watch: ${code === 2 ? 'cannot read ' : ''}x\\x1b[2J\\x1b]0;owned\\x07\\u{202e}evil\\nforged line`);
    for (const line of printed(io.errLines)) expect(line).not.toMatch(RAW);
  });

  it('with --debug, the stack trace lines are display-safe too', async () => {
    const io = recordingIo();
    expect(await execute(failing(new Error(HOSTILE)), ['boom', '--debug'], io, () => 0)).toBe(1);
    expect(printed(io.errLines).length).toBeGreaterThan(2);
    for (const line of printed(io.errLines)) expect(line).not.toMatch(RAW);
  });

  it("commander's own errors, which quote the argument, are display-safe", async () => {
    const io = recordingIo();
    expect(await run(['readiness', `--${HOSTILE}`], io)).toBe(2);
    expect(io.errLines[0]).toMatch(/^cutover-watch readiness: unknown option '--x\\x1b\[2J.*\\nforged line' \(see cutover-watch readiness --help\)$/);
    for (const line of printed(io.errLines)) expect(line).not.toMatch(RAW);
  });
});

describe('--node-role with an unusable glob', () => {
  it.each([
    ['analyze', ['analyze', '--node-role', '[NodeInstanceRole', 'logs']],
    ['classify', ['classify', '--node-role', '*Node{a,b}*', 'logs']],
    ['backfill', ['backfill', '--days', '1', '--region', 'us-east-1', '--node-role', '']],
  ])('%s: exit 2, one line naming the option, before any store or input is touched', async (_command, argv) => {
    const io = recordingIo();
    expect(await run(argv, io)).toBe(2);
    expect(io.errLines[0]).toMatch(/^cutover-watch \w+: option '--node-role <glob>' argument '.*' is invalid\. expected a node role name or ARN glob .*: (unbalanced \[|\{ is not supported.*|empty glob) \(see cutover-watch \w+ --help\)$/);
    expect(io.errLines[0]).not.toContain('\n');
    expect(existsSync(path.join(cwd, '.cutover-watch'))).toBe(false);
  });

  it('collects the globs that are usable, in order', () => {
    expect(collectNodeRole('*NodeInstanceRole*', collectNodeRole('KarpenterNodeRole-?'))).toEqual(['KarpenterNodeRole-?', '*NodeInstanceRole*']);
  });
});

describe('lines built from store values', () => {
  it('the unmapped-issuers line of analyze writes out the controls of an issuer', async () => {
    const issuer = `oidc.eks.us-east-1.amazonaws.com/id/${HOSTILE}`;
    const store = { scopes: async () => [{ pk: 'SCOPES', sk: `issuer:${issuer}`, kind: 'issuer', name: issuer }], loadInventory: async () => emptyInventory() };
    const io = recordingIo();
    await printUnmappedIssuers(store as unknown as DynamoEvidenceStore, io);
    const line = io.outLines.find((l) => l.startsWith('action needed'));
    expect(line).toContain('/id/x\\x1b[2J\\x1b]0;owned\\x07\\u{202e}evil\\nforged line)');
    expect(line).toContain('cutover-watch inventory sync --region us-east-1');
    for (const l of printed(io.outLines)) expect(l).not.toMatch(RAW);
  });

  it("coverage's holes lines write out the controls of an account or region", () => {
    const io = recordingIo();
    const hole = { from: '2026-11-12T00:00:00Z', to: '2026-11-13T00:00:00Z' };
    printCoverage([{ account: `1111${HOSTILE}`, region: 'us-east-1\u2066', from: '2026-11-01T00:00:00Z', through: '2026-11-19T23:00:00Z', gaps: [hole], sources: ['files'], unreadLogFiles: [], missingDigests: [] }], new Date('2026-11-20T00:00:00Z'), io);
    const holes = io.outLines.slice(io.outLines.findIndex((l) => l.startsWith('holes')) + 1);
    expect(holes).toEqual(['  1111x\\x1b[2J\\x1b]0;owned\\x07\\u{202e}evil\\nforged line/us-east-1\\u{2066}: 2026-11-12 00:00..2026-11-13 00:00']);
    for (const l of printed(io.outLines)) expect(l).not.toMatch(RAW);
  });
});
