import type { ZodError } from 'zod';

/** Each bad field as `path: message`, joined by '; '; `whole` names an issue with the value as a whole. */
export function describeIssues(error: ZodError, whole: string, max = 5): string {
  return error.issues
    .slice(0, max)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : whole}: ${issue.message}`)
    .join('; ');
}

/** One readable line from a message that failed its schema, naming the message type and each bad field. */
export function describeParseError(type: string, error: ZodError): string {
  return `invalid ${type}: ${describeIssues(error, '(message)')}`;
}
