/**
 * The events the reading thread normalized (core/record-skim `SkimEvents`), as the ingest takes
 * them: in place of its own parse and normalization, and only when they are what it would make.
 */
import { describe, expect, it } from 'vitest';
import { ingestUnits, type IngestOptions, type RecordUnit } from '../../functions/adapters/ingest-pipeline';
import { normalizingOf, Skimmer, type Skim, type SkimmedRecords } from '../../functions/core/record-skim';
import { embeddedTables } from '../support/embedded-tables';
import { irsaTrailRecord } from '../support/events';

const tables = embeddedTables('thread-normalized');

const EARLY = new Date('2026-11-20T00:00:00Z');
const LATE = new Date('2026-11-22T00:00:00Z');

/**
 * A log file as the reading thread hands it over, its identity calls normalized with the clock
 * `normalizedAt`: one record inside any window, one dated after EARLY's window (a day past it) and
 * inside LATE's. `edit` changes the handed-over events, so that a test sees which were taken.
 */
function skimmedFile(normalizedAt: Date, edit: (skim: Skim) => void = () => undefined): SkimmedRecords {
  const bytes = Buffer.from(JSON.stringify({ Records: [irsaTrailRecord('2026-11-19T10:00:00Z', 'in-window'), irsaTrailRecord('2026-11-21T12:00:00Z', 'after-early')] }));
  const skim = new Skimmer().skim(bytes, normalizingOf({ now: normalizedAt })) as Skim;
  // (a record after the thread's window is left to the ingest)
  expect(skim.events?.count).toBe(normalizedAt < LATE ? 1 : 2);
  edit(skim);
  return { type: 'skimmed', file: 'f.json', bytes: skim.bytes, records: skim.records, dictionary: { epoch: skim.epoch, skeletons: new Map(skim.keys) }, hours: skim.hours, events: skim.events };
}

async function ingest(file: SkimmedRecords, now: Date, extra: Partial<IngestOptions> = {}) {
  const rejected: string[] = [];
  const unit: RecordUnit = {
    name: file.file,
    items: (async function* () {
      yield [file];
    })(),
  };
  const summary = await ingestUnits(
    (async function* () {
      yield unit;
    })(),
    { store: await tables.fresh(), now: () => now, detect: false, onRejection: (r) => void rejected.push(`${r.where}: ${r.field}`), ...extra },
  );
  return { summary, rejected };
}

/** Every success the thread made a denial: a count of denials says its events were taken. */
const denied = (skim: Skim) => {
  const other = skim.events?.other as string[];
  other[other.indexOf('success')] = 'denied';
};

describe('records the reading thread normalized', () => {
  it('are taken as it made them when the ingest’s clock is no earlier than the thread’s', async () => {
    const { summary, rejected } = await ingest(skimmedFile(LATE, denied), LATE);
    expect(rejected).toEqual([]);
    expect(summary.inScope).toBe(2);
    // not parsed again: the events are the thread's (edited here)
    expect(summary.byOutcome).toMatchObject({ success: 0, denied: 2 });
  });

  it('are normalized again by the ingest when its clock is earlier: a record after its window is rejected, not counted', async () => {
    const { summary, rejected } = await ingest(skimmedFile(LATE, denied), EARLY);
    expect(rejected).toEqual(['record 2: eventTime']);
    expect(summary.inScope).toBe(1);
    expect(summary.byOutcome).toMatchObject({ success: 1, denied: 0 });
  });

  it('are normalized again when the thread used another event time window', async () => {
    // the thread's window ends a day after EARLY, the ingest's three days after: the same verdicts, made here
    const { summary, rejected } = await ingest(skimmedFile(EARLY, denied), EARLY, { eventTimeWindow: { futureSlackMs: 3 * 86_400_000 } });
    expect(rejected).toEqual([]);
    expect(summary.inScope).toBe(2);
    expect(summary.byOutcome).toMatchObject({ success: 2, denied: 0 });
  });
});
