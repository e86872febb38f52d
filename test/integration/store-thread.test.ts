import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opensEmbeddedStore } from '../../bin/prestart';
import { openEmbeddedStore } from '../../functions/local/embedded-store';
import { prestartStoreThread, takePrestartedStoreThread } from '../../functions/local/store-thread';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cw-store-thread-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('the store thread the launcher starts before the bundle loads', () => {
  it('is the thread the next store opened runs on, once', async () => {
    const thread = prestartStoreThread();
    expect(thread).toBeDefined();
    expect(prestartStoreThread()).toBe(thread); // one at a time
    const store = await openEmbeddedStore(path.join(tmp, 'first'), { write: true });
    try {
      expect(takePrestartedStoreThread()).toBeUndefined(); // the store took it
      expect((await store.client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('is left when it has exited before a store opened: the store starts a thread of its own', async () => {
    const thread = prestartStoreThread()!;
    const exited = new Promise((resolve) => thread.once('exit', resolve));
    await thread.terminate();
    await exited;
    const store = await openEmbeddedStore(path.join(tmp, 'second'), { write: true });
    try {
      expect((await store.client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
      expect(takePrestartedStoreThread()).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('which commands the launcher starts a store thread for', () => {
  it('those that open the embedded store, unless they only print help or the version, or use a deployed table', () => {
    expect(opensEmbeddedStore(['analyze', 'logs/'])).toBe(true);
    expect(opensEmbeddedStore(['--debug', 'readiness', '--json'])).toBe(true);
    expect(opensEmbeddedStore(['inventory', 'import', 'eks.json'])).toBe(true);
    expect(opensEmbeddedStore(['classify', 'logs/'])).toBe(false);
    expect(opensEmbeddedStore(['--version'])).toBe(false);
    expect(opensEmbeddedStore([])).toBe(false);
    expect(opensEmbeddedStore(['analyze', '--help'])).toBe(false);
    expect(opensEmbeddedStore(['help', 'analyze'])).toBe(false);
    expect(opensEmbeddedStore(['readiness', '--table', 'cutover-watch-evidence'])).toBe(false);
    expect(opensEmbeddedStore(['readiness', '--table=cutover-watch-evidence'])).toBe(false);
  });
});
