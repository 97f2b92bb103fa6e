import type { ZodError } from 'zod';

/** One readable line from a schema failure, naming the message type and each bad field. */
export function describeParseError(type: string, error: ZodError): string {
  const problems = error.issues.slice(0, 5).map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : '(message)';
    return `${field}: ${issue.message}`;
  });
  return `invalid ${type}: ${problems.join('; ')}`;
}
