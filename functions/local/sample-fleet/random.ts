/**
 * The seeded PRNG (mulberry32) and the id alphabets of the sample fleet.
 *
 * Kept apart because every other module draws from it: the fleet is byte-identical for a seed only
 * while every call to `Random` happens in the same order, so the generator itself must not change
 * when the modules that call it move around.
 */

export const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const HEX = '0123456789abcdef';
/** Kubernetes `rand.SafeEncodeString` alphabet (pod-template-hash and pod name suffixes). */
export const K8S_SAFE = 'bcdfghjklmnpqrstvwxz2456789';

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** mulberry32: uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Number in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  chars(alphabet: string, n: number): string {
    let out = '';
    for (let i = 0; i < n; i++) out += alphabet.charAt(Math.floor(this.next() * alphabet.length));
    return out;
  }

  /** RFC 4122 version-4 UUID built from the PRNG. */
  uuid(): string {
    const h = this.chars(HEX, 32).split('');
    h[12] = '4';
    h[16] = HEX.charAt(8 + Math.floor(this.next() * 4));
    const s = h.join('');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  }

  accessKeyId(prefix: 'ASIA' | 'AKIA'): string {
    return prefix + this.chars(BASE32, 16);
  }

  /** Fake STS session token; always carries the marker `FAKE-SESSION-TOKEN`. */
  sessionToken(): string {
    return `FAKE-SESSION-TOKEN/${this.chars(ALNUM, 48)}`;
  }

  ipv4(prefix: string): string {
    // prefix like '10.20' → 10.20.x.y
    return `${prefix}.${this.int(0, 255)}.${this.int(1, 254)}`;
  }
}

/** Topology ids do not depend on the traffic seed. */
export const STRUCTURE_SEED = 0x0e45_2026;
