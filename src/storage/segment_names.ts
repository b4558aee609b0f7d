/**
 * A segment's file names and the settings its files are made with: `<base>.log`, `.index`,
 * `.timeindex`, the base offset in 20 zero-padded digits, and the suffixes the cleaner's swap adds
 * (segment_swap.ts). segment.ts re-exports them.
 */
export interface SegmentSettings {
  indexIntervalBytes: number;
  /** segment.index.bytes: the offset index's size cap; the time index gets the same entry count. */
  segmentIndexBytes: number;
  maxMessageBytes: number;
}

/** 20 digits, zero-padded: the names sort as the offsets do. */
export function segmentFileStem(baseOffset: number): string {
  return String(baseOffset).padStart(20, "0");
}

export const LOG_SUFFIX = ".log";
export const INDEX_SUFFIX = ".index";
export const TIME_INDEX_SUFFIX = ".timeindex";
/**
 * A segment the cleaner is writing: `<base>.log.cleaned` with `.index.cleaned` and
 * `.timeindex.cleaned`; renamed to `.swap` once whole and fsynced (the swap's commit point), then
 * to the plain names (src/storage/cleaner/segment_swap.ts).
 */
export const CLEANED_SUFFIX = ".cleaned";
export const SWAP_SUFFIX = ".swap";
/** A retired segment file, to be removed (Kafka's suffix); the loader removes any it finds. */
export const DELETED_SUFFIX = ".deleted";
