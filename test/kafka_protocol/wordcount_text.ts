/**
 * The text kafka_streams_test.ts feeds Kafka Streams' WordCount, and its words as the topology
 * sees them: a deterministic text (a seeded PRNG) of lines of mixed-case words from a Zipf-like
 * vocabulary, with ASCII and non-ASCII separators, some lines empty or of separators only, some
 * starting with a separator; and the words of a line split as Java's `String.split("\\W+")` does
 * after lower-casing (Java and JavaScript agree on \W: ASCII letters, digits and `_` are word
 * characters, everything else, non-ASCII letters too, separates). Not a test file itself.
 */

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ["ka", "lo", "mi", "ra", "su", "te", "vo", "zan", "qu", "ix", "bel", "dor"];
/** \W runs, as Java's and JavaScript's regexes both see them (non-ASCII letters are \W). */
const SEPARATORS = [
  " ",
  " ",
  " ",
  " ",
  ", ",
  ". ",
  " - ",
  "; ",
  "'",
  "\t",
  " (",
  ") ",
  " é ",
  "日本",
  " 🚀 ",
  "…",
  "  ",
];

/** `count` lines: 3-14 words from a Zipf-like vocabulary of 180, some upper-cased. */
export function makeLines(count: number): string[] {
  const r = prng(16);
  const vocabulary = new Set<string>();
  while (vocabulary.size < 180) {
    let w = "";
    for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
      w += SYLLABLES[Math.floor(r() * SYLLABLES.length)];
    }
    if (r() < 0.1) w += String(Math.floor(r() * 10));
    if (r() < 0.05) w += "_x";
    vocabulary.add(w);
  }
  const words = [...vocabulary];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const kind = r();
    if (kind < 0.01) {
      out.push(""); // Java: "".split(..) is [""], one empty word
      continue;
    }
    if (kind < 0.02) {
      out.push("-- …"); // separators only: no word
      continue;
    }
    let s = r() < 0.03 ? "(" : ""; // a leading separator: an empty first word
    const n = 3 + Math.floor(r() * 12);
    for (let k = 0; k < n; k++) {
      let w = words[Math.floor(words.length * r() ** 2)];
      const c = r();
      if (c < 0.1) w = w.toUpperCase();
      else if (c < 0.2) w = w[0].toUpperCase() + w.slice(1);
      s += w + (k < n - 1 ? SEPARATORS[Math.floor(r() * SEPARATORS.length)] : "");
    }
    if (r() < 0.2) s += "."; // a trailing separator: no empty last word
    out.push(s);
  }
  return out;
}

/** The topology's words of a line: lower-cased, split on \W+ as Java's String.split does. */
export function javaWords(line: string): string[] {
  const lower = line.toLowerCase();
  if (lower === "") return [""];
  const parts = lower.split(/\W+/);
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

export type Counts = Map<string, number>;

export function add(counts: Counts, word: string, n = 1): void {
  counts.set(word, (counts.get(word) ?? 0) + n);
}

export function countWords(lines: Iterable<string>): Counts {
  const counts: Counts = new Map();
  for (const line of lines) for (const w of javaWords(line)) add(counts, w);
  return counts;
}

/** The first difference of two multisets, or "" when equal. */
export function multisetDifference(got: Counts, want: Counts): string {
  for (const [w, n] of want) {
    if ((got.get(w) ?? 0) !== n) return `word ${JSON.stringify(w)}: ${got.get(w) ?? 0}, want ${n}`;
  }
  for (const [w, n] of got) if (!want.has(w)) return `word ${JSON.stringify(w)}: ${n}, want 0`;
  return "";
}

/** The first word of `small` that `big` holds fewer times, or "" when `small` is contained. */
export function notContained(small: Counts, big: Counts): string {
  for (const [w, n] of small) {
    if ((big.get(w) ?? 0) < n) return `word ${JSON.stringify(w)}: ${big.get(w) ?? 0} < ${n}`;
  }
  return "";
}
