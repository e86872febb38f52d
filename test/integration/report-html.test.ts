import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { DEFAULT_TABLE_NAME } from '../../functions/core/table-schema';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { writeReport } from '../../functions/local/report';
import { DEMO_DIR, DEMO_END, demoInto } from '../support/demo';

/**
 * The HTML report of the sample fleet, opened in real headless Chromium with the network cut off:
 * it must draw every chart from what is inside the file. Needs Debian's chromium
 * (`apt-get install -y chromium`); CUTOVER_WATCH_NO_BROWSER=1 skips it, saying so.
 * CUTOVER_WATCH_SCREENSHOT=FILE.png keeps the screenshot to look at.
 */
const CHROMIUM = '/usr/bin/chromium';
const OPTED_OUT = process.env['CUTOVER_WATCH_NO_BROWSER'] === '1';
const END = new Date(DEMO_END);
const SAMPLE_NAMESPACES = 22;

if (OPTED_OUT) console.warn('report-html: skipped because CUTOVER_WATCH_NO_BROWSER=1: the HTML report was not opened in a browser');

let work: string;
let embedded: EmbeddedStore;
let store: DynamoEvidenceStore;
let browser: Browser;

beforeAll(async () => {
  if (OPTED_OUT) return;
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to test the HTML report, or set CUTOVER_WATCH_NO_BROWSER=1 to skip this test`);
  }
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-report-html-'));
  // the sample fleet (seed 42, ending at END) as the demo analyzed it: a copy of its store
  const demo = await demoInto(work, { without: ['logs', 'late', 'reports'] });
  if (demo.code !== 0) throw new Error(`demo failed: ${demo.stderr}`);
  embedded = await startEmbeddedStore(path.join(work, DEMO_DIR));
  store = new DynamoEvidenceStore({ client: embedded.client, tableName: DEFAULT_TABLE_NAME, singleWriter: true });
  await store.assertTable(undefined);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await embedded?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A page that may load only file: and data: URLs; everything else is refused and recorded. */
async function offlinePage(options: { javaScriptEnabled?: boolean } = {}): Promise<{ page: Page; blocked: string[]; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, javaScriptEnabled: options.javaScriptEnabled ?? true });
  const page = await context.newPage();
  const blocked: string[] = [];
  const problems: string[] = [];
  await page.route('**/*', async (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) await route.continue();
    else {
      blocked.push(url);
      await route.abort();
    }
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { page, blocked, problems };
}

describe.skipIf(OPTED_OUT)('the HTML report of the sample fleet', () => {
  let file: string;

  beforeAll(async () => {
    file = await writeReport(store, { asOf: END, format: 'html', outDir: path.join(work, 'reports') });
  }, 60_000);

  it('is one file, named after the as-of day, with nothing else beside it', async () => {
    expect(path.basename(file)).toBe('cutover-watch-report-2026-11-20.html');
    expect(await readdir(path.dirname(file))).toEqual(['cutover-watch-report-2026-11-20.html']);
    const html = await readFile(file, 'utf8');
    expect(html).toContain('Chart.js v4');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
  });

  it('draws every chart offline, without an error, and the page is not blank', async () => {
    const { page, blocked, problems } = await offlinePage();

    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('html[data-charts]');

    expect(problems).toEqual([]);
    expect(blocked).toEqual([]);
    const charts = (await page.evaluate(CHARTS_IN_PAGE)) as { instances: number; canvases: { id: string; width: number; height: number; painted: number }[] };
    // the verdicts per cluster, the fleet's daily assumes, one per namespace
    expect(charts.instances).toBe(2 + SAMPLE_NAMESPACES);
    expect(charts.canvases).toHaveLength(2 + SAMPLE_NAMESPACES);
    for (const c of charts.canvases) {
      expect(c.width, c.id).toBeGreaterThan(200);
      expect(c.height, c.id).toBeGreaterThan(100);
      expect(c.painted, `${c.id} has drawn pixels`).toBeGreaterThan(0.02);
    }

    const png = await page.screenshot({ fullPage: true });
    if (process.env['CUTOVER_WATCH_SCREENSHOT']) await writeFile(process.env['CUTOVER_WATCH_SCREENSHOT'], png);
    // the sample fleet's page is about 2 MB with some 4,000 colours; the page of an empty store
    // (header and cards, no chart) some 175 KB and 1,000 colours
    expect(png.length).toBeGreaterThan(800_000);
    const stats = await pixelStats(png);
    expect(stats.distinctColours).toBeGreaterThan(2000);
    expect(stats.stddev).toBeGreaterThan(25);
  });

  it('reads without JavaScript: the tables carry the numbers and say the charts need it', async () => {
    const { page, problems } = await offlinePage({ javaScriptEnabled: false });

    await page.goto(pathToFileURL(file).href);

    expect(problems).toEqual([]);
    await expect.poll(() => page.locator('#chart-clusters').isVisible()).toBe(false);
    expect(await page.getByText('The charts need JavaScript').isVisible()).toBe(true);
    const stragglers = await page.locator('#stragglers').innerText();
    expect(stragglers).toContain('inventory-sync');
    expect(stragglers).toContain('create the association');
    expect(stragglers).toContain('check the trust policy');
    expect(stragglers).toContain('restart the pods');
    expect(await page.locator('#clean-up tbody.item').count()).toBeGreaterThan(5);
    expect(await page.locator('#namespaces > table tbody tr').count()).toBe(SAMPLE_NAMESPACES);
  });

  it('prints', async () => {
    const { page, problems } = await offlinePage();
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('html[data-charts]');
    await page.emulateMedia({ media: 'print' });

    const pdf = await page.pdf({ format: 'A4', printBackground: true });

    expect(problems).toEqual([]);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(100_000);
  });
});

/**
 * In-page scripts, as source text: the project compiles without the DOM library. The chart
 * library's own count of charts, and for each canvas its size and the share of pixels drawn.
 */
const CHARTS_IN_PAGE = `(() => ({
  instances: Object.keys(window.Chart.instances).length,
  canvases: [...document.querySelectorAll('canvas')].map((c) => {
    const box = c.getBoundingClientRect();
    const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted += 1;
    return { id: c.id, width: box.width, height: box.height, painted: painted / (pixels.length / 4) };
  }),
}))()`;

/** Decodes the PNG with the browser itself and measures how much is on it. */
async function pixelStats(png: Buffer): Promise<{ distinctColours: number; stddev: number }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    return (await page.evaluate(`(async () => {
      const img = new Image();
      img.src = 'data:image/png;base64,${png.toString('base64')}';
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, img.width, img.height).data;
      const colours = new Set();
      let sum = 0, sumSq = 0, n = 0;
      for (let i = 0; i < data.length; i += 16) {
        const grey = (data[i] + data[i + 1] + data[i + 2]) / 3;
        colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
        sum += grey;
        sumSq += grey * grey;
        n += 1;
      }
      const mean = sum / n;
      return { distinctColours: colours.size, stddev: Math.sqrt(sumSq / n - mean * mean) };
    })()`)) as { distinctColours: number; stddev: number };
  } finally {
    await context.close();
  }
}
