/** Output a journal cannot serve from disk, and the error a read that meets it throws. */
import { TowerError } from '../protocol/errors.js';

export type GapReason = 'not_saved' | 'damaged' | 'unreadable';

/** Output in [from, to) that cannot be read from disk, and why. */
export interface Gap {
  from: number;
  to: number;
  reason: GapReason;
}

/** A read that meets output the disk does not have (or has damaged): says which bytes and why. */
export class GapError extends TowerError {
  constructor(readonly gap: Gap) {
    super('offset_not_retained', describeGap(gap));
  }
}

export function describeGap(gap: Gap, detail?: string): string {
  const range = `output ${gap.from}-${gap.to}`;
  switch (gap.reason) {
    case 'not_saved':
      return `${range} was not saved to disk (it could not be written) and is no longer in memory`;
    case 'damaged':
      return `${range} is damaged on disk (checksum mismatch)${detail ? `: ${detail}` : ''}`;
    case 'unreadable':
      return `${range} cannot be read from disk${detail ? `: ${detail}` : ''}`;
  }
}
