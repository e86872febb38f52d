import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, rmdirSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';
import { startSharedDemo } from './test/support/shared-demo.mjs';

/**
 * Longest first (vitest's cache of the last run; in a fresh clone, test/durations.json, a reference
 * run's times written by scripts/test-durations.mjs; else the largest file), so the spawned-CLI and
 * dynalite files that take longest start at once on the two cores and the many short files fill in
 * behind them. The files that each need a fresh process (the handlers project) go first: at the end
 * of the run, a process starting alone with one file left a core idle for seconds.
 */
const REFERENCE_DURATIONS = JSON.parse(readFileSync(new URL('./test/durations.json', import.meta.url), 'utf8')) as Record<string, number>;

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const cache = this.ctx.cache;
    const weight = (spec: TestSpecification) => {
      const key = `${spec.project.name}:${relative(root, spec.moduleId)}`;
      return cache.getFileTestResults(key)?.duration ?? REFERENCE_DURATIONS[key] ?? cache.getFileStats(key)?.size ?? 0;
    };
    // a project's files stay together: a worker is reused only for the next file of its project
    const isolated = (spec: TestSpecification) => (spec.project.config.isolate ? 0 : 1);
    await startTheDemoEarly(files);
    return [...files].sort((a, b) => isolated(a) - isolated(b) || (a.project.name < b.project.name ? -1 : a.project.name > b.project.name ? 1 : 0) || weight(b) - weight(a));
  }
}

/**
 * The demo that test files share (test/support/demo.ts) takes a core for half a minute: started now,
 * beside the first files, when a file of the run will ask for it, rather than by that file while the
 * files after it wait. Global setup (test/global-setup.ts) has built the CLI and made the folder.
 */
async function startTheDemoEarly(files: readonly TestSpecification[]): Promise<void> {
  const user = files.find((spec) => readFileSync(spec.moduleId, 'utf8').includes('demoInto('));
  if (user === undefined) return;
  await startSharedDemo(user.project.getProvidedContext().sharedFixtures, { ...process.env, ...user.project.config.env });
}

/**
 * One temp folder for the run: `TMPDIR` points there for the test workers and every process they
 * spawn (the CLI, Chromium), and test/support/temp-folders.ts fails the run naming whatever a test
 * left in it. Made once: workers load this config again and inherit the variable.
 */
function testTempRoot(): string {
  if (process.env['CUTOVER_WATCH_TEST_TMP'] === undefined) {
    const root = mkdtempSync(join(tempParent(), 'cutover-watch-tests-'));
    // Like the system's temp folder (1777): tests run the CLI as another user (`nobody`), which
    // reaches folders made for it and makes its own temp folders here. Each test's own folder keeps
    // mkdtemp's 0700.
    chmodSync(root, 0o1777);
    process.env['CUTOVER_WATCH_TEST_TMP'] = root;
    // The reporter (test/support/temp-folders.ts) removes it; a run whose `--reporter` replaces
    // the configured ones would leave it. Only an empty one goes here: what a test left stays seen.
    process.once('exit', () => {
      try {
        rmdirSync(root);
      } catch {
        // gone already, or not empty
      }
    });
  }
  return process.env['CUTOVER_WATCH_TEST_TMP'];
}

/**
 * Where the run's temp folder goes: `TMPDIR` when it is set; else, on Linux, the RAM-backed
 * /dev/shm when it has room; else the system's temp folder. The suite makes ~20,000 files (sample
 * fleets in CloudTrail's S3 layout, one small gzip per hour; LevelDB tables; reports), and on the
 * 2-core VM creating a file under /tmp blocked ~0.9 ms in open(2) (on the same ext4 disk, 0.04 ms
 * in a new top-level folder: it depends on the disk's state, not pinned down), 0.02 ms on tmpfs:
 * 5.7 s of the ingest handler test's 36 s. A container's default /dev/shm (64 MB) is too small,
 * hence the room check.
 */
function tempParent(): string {
  if (process.env['TMPDIR'] !== undefined && process.env['TMPDIR'] !== '') return tmpdir();
  const shm = '/dev/shm';
  try {
    const { bavail, bsize } = statfsSync(shm);
    accessSync(shm, constants.W_OK);
    if (bavail * bsize >= 1024 ** 3) return shm;
  } catch {
    // no /dev/shm (macOS, Windows) or not ours to write: the system's temp folder
  }
  return tmpdir();
}

const HANDLERS_WITH_MODULE_STATE = [
  'test/integration/ingest-handler.test.ts',
  'test/integration/scheduled-handlers.test.ts',
  'test/integration/alert-handlers.test.ts',
  'test/integration/trail-fold-handler.test.ts',
];

export default defineConfig({
  test: {
    // The SDK's Node 22 notice is about Lambda's runtime, not this machine's Node 20.
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // aws-cdk-lib validates every synthesized template in WebAssembly (@aws/cloudformation-validate):
      // ~15 s of CPU per App. `cdk synth` in CI (.ci/run) keeps it; the tests assert their own properties.
      CDK_VALIDATION: 'false',
      // Temp folders of tests and of what they spawn go in one folder of the run, checked empty at the end.
      TMPDIR: testTempRoot(),
    },
    reporters: ['default', './test/support/temp-folders.ts'],
    // Forks, not threads: a test changes directory (process.chdir), which threads may not.
    pool: 'forks',
    // vitest's default on 2 cores is 1 worker: every file would wait for the one before it. Four,
    // not two: the workers often wait on what they start (Chromium, spawned CLIs, the shared demo,
    // the store's thread), and the others fill those waits. On this 2-core VM, a fresh clone's run
    // took 111.7 and 114.8 s with three against 115.0 and 127.9 s with two (back to back); on
    // 2026-12-06, alternated, 133.7 and 136.0 s with four against 145.4 and 142.7 with three.
    maxWorkers: 4,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // expect.poll waits for a state to settle (a page's rows, a label): 1 s, the default, is short
    // for Chromium on a loaded machine; only a failing check waits the whole time
    expect: { poll: { timeout: 10_000 } },
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        extends: true,
        // Everything but the handlers below, in workers that load the CLI, the SDK, the store and
        // aws-cdk-lib once, not per file or per kind of test (a worker serves one project only: three
        // projects cost three sets of workers, each importing and transforming again): these files
        // restore what they change (the working directory, the environment, SDK mocks in afterAll).
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: HANDLERS_WITH_MODULE_STATE,
          globalSetup: ['test/global-setup.ts'],
          // the CDK tests' cloud assemblies, in a folder per file (an empty one for the other files)
          setupFiles: ['test/infra/cdk-out.ts'],
          isolate: false,
        },
      },
      {
        extends: true,
        // Lambda handlers whose modules read the environment once and are loaded anew with mocked
        // modules (vi.doMock, vi.resetModules): each file in a fresh process.
        test: { name: 'handlers', include: HANDLERS_WITH_MODULE_STATE },
      },
    ],
  },
});
