/**
 * `<store>/rejects.jsonl`: one line per rejection (file, record, field, reason), written as the
 * run goes, bounded in size. A run of consecutive rejections for the same reason in the same file
 * (a file of a million empty records) is one line with its count and first and last record.
 * When the file would pass `maxBytes` it is rotated to `rejects.1.jsonl` (the previous one is
 * dropped), so the two never hold more than twice that.
 */
import { appendFileSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { makeDirectory } from '../adapters/make-directory';
import type { Rejection } from '../adapters/ingest-pipeline';

export const DEFAULT_REJECTS_MAX_BYTES = 10 * 1024 * 1024;
/** Lines are written in batches of about this many bytes. */
const BATCH_BYTES = 64 * 1024;

interface Run {
  rejection: Rejection;
  count: number;
  lastWhere: string | null;
}

export class RejectsFile {
  private run: Run | null = null;
  private pending: string[] = [];
  private pendingBytes = 0;
  private size: number | null = null;
  /** Rejections added, each counted once however they were summarized. */
  count = 0;
  rotated = false;

  constructor(
    readonly file: string,
    private readonly now: () => Date,
    private readonly maxBytes = DEFAULT_REJECTS_MAX_BYTES,
  ) {}

  get rotatedFile(): string {
    return path.join(path.dirname(this.file), `${path.basename(this.file, '.jsonl')}.1.jsonl`);
  }

  add(rejection: Rejection): void {
    this.count++;
    const run = this.run;
    if (run !== null && run.rejection.file === rejection.file && run.rejection.reason === rejection.reason && (run.rejection.field ?? null) === (rejection.field ?? null)) {
      run.count++;
      run.lastWhere = rejection.where;
      return;
    }
    this.endRun();
    this.run = { rejection, count: 1, lastWhere: rejection.where };
  }

  /** Writes what is held. Throws if the file cannot be written (the caller reports it). */
  flush(): void {
    this.endRun();
    this.write();
  }

  private endRun(): void {
    const run = this.run;
    if (run === null) return;
    this.run = null;
    const { file, where, field, reason } = run.rejection;
    const line = JSON.stringify({
      at: this.now().toISOString(),
      file,
      where,
      field: field ?? null,
      reason,
      ...(run.count > 1 ? { count: run.count, lastWhere: run.lastWhere } : {}),
    });
    this.pending.push(line);
    this.pendingBytes += Buffer.byteLength(line) + 1;
    if (this.pendingBytes >= BATCH_BYTES) this.write();
  }

  private write(): void {
    if (this.pending.length === 0) return;
    if (this.size === null) {
      makeDirectory(path.dirname(this.file), 0o700);
      try {
        this.size = statSync(this.file).size;
      } catch {
        this.size = 0;
      }
    }
    let chunk = '';
    let chunkBytes = 0;
    for (const line of this.pending) {
      const bytes = Buffer.byteLength(line) + 1;
      if (this.size + chunkBytes > 0 && this.size + chunkBytes + bytes > this.maxBytes) {
        if (chunk !== '') appendFileSync(this.file, chunk, { mode: 0o600 });
        renameSync(this.file, this.rotatedFile);
        this.size = 0;
        chunk = '';
        chunkBytes = 0;
        this.rotated = true;
      }
      chunk += `${line}\n`;
      chunkBytes += bytes;
    }
    if (chunk !== '') appendFileSync(this.file, chunk, { mode: 0o600 });
    this.size += chunkBytes;
    this.pending = [];
    this.pendingBytes = 0;
  }
}
