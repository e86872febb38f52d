/**
 * Time units and the timestamp formats of the sample fleet (CloudTrail `eventTime`, AWS CLI output,
 * STS `credentials.expiration`), plus the access-denied-spike window the planted cases are aligned on.
 *
 * Shared by the record builders, the traffic plan, the inventory and the expected detections, so they
 * all format and bucket time the same way.
 */

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** CloudTrail `eventTime`: ISO 8601 UTC with second precision. */
export function ctTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** AWS CLI v2 timestamp (`cli_timestamp_format = iso8601`): `2026-11-01T10:22:31.123000+00:00`. */
export function cliTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000+00:00');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** STS `credentials.expiration` as CloudTrail writes it: `Apr 16, 2024, 3:20:04 PM`. */
export function stsExpiration(ms: number): string {
  const d = new Date(ms);
  const h = d.getUTCHours();
  const h12 = h % 12 === 0 ? 12 : h % 12;
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  const ss = String(d.getUTCSeconds()).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()}, ${h12}:${mm}:${ss} ${h < 12 ? 'AM' : 'PM'}`;
}

/** Detection defaults the planted cases are built for. */
export const SPIKE_WINDOW_MINUTES = 5;

/** Start of the fixed access-denied-spike window (aligned on the epoch) that contains `t`. */
export function spikeWindow(t: number): number {
  const size = SPIKE_WINDOW_MINUTES * MINUTE;
  return Math.floor(t / size) * size;
}
