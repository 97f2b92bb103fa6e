/** Errors the client raises: a stable code (the daemon's error code, or a client-side one) and a message. */
export class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}
