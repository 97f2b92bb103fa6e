import type { ErrorCode } from './socket.js';

/** An error meant for the client: its message is shown as is, its code is stable. */
export class TowerError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TowerError';
  }
}
