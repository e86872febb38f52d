import { jsonDocumentLines } from '../json-document';
import { reportDocument, type StragglerReport } from '../report';
import { renderCsv } from './csv';
import { renderHtml } from './html';
import { renderMarkdown } from './markdown';
import { renderText, type TextOptions } from './text';

export { CSV_COLUMNS, csvField, csvLines, renderCsv, type CsvValue } from './csv';
export { esc, jsonForScript, renderHtml, type HtmlOptions } from './html';
export { markdownLines, md, renderMarkdown } from './markdown';
export { renderText, TEXT_MAX_BYTES, type TextOptions } from './text';

/**
 * The model with each row's plan (`reportDocument`) and `schemaVersion` first, as `--format json`
 * prints it and the scheduled job writes it: parses back to exactly that plus `schemaVersion`.
 */
export function renderJson(report: StragglerReport): string {
  return [...reportJsonPieces(report)].join('');
}

/** `renderJson`'s text some lines at a time, each row's plan made as it is written: what the scheduled job streams to S3. */
export function* reportJsonPieces(report: StragglerReport): Generator<string> {
  for (const lines of jsonDocumentLines({ ...reportDocument(report) })) yield `${lines}\n`;
}

export const REPORT_FORMATS = ['text', 'md', 'json', 'csv', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
export const REPORT_EXTENSIONS: Record<ReportFormat, string> = { text: 'txt', md: 'md', json: 'json', csv: 'csv', html: 'html' };
export const REPORT_MEDIA_TYPES: Record<ReportFormat, string> = {
  text: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  json: 'application/json',
  csv: 'text/csv; charset=utf-8; header=present',
  html: 'text/html; charset=utf-8',
};

/** Any format; `chartJs` (Chart.js's UMD source) is needed for html only. Async for html, whose page data is gzipped as it is written. */
export async function renderReport(report: StragglerReport, format: ReportFormat, options: { chartJs?: string; text?: TextOptions } = {}): Promise<string> {
  switch (format) {
    case 'text':
      return renderText(report, options.text);
    case 'md':
      return renderMarkdown(report);
    case 'json':
      return renderJson(report);
    case 'csv':
      return renderCsv(report);
    case 'html':
      if (options.chartJs === undefined) throw new Error('renderReport: html needs the Chart.js source (options.chartJs)');
      return renderHtml(report, { chartJs: options.chartJs });
  }
}
