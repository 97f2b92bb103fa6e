/** Wire types, taken from the daemon's own schemas (type-only: nothing of zod reaches the bundle). */
import type { z } from 'zod';
import type { RuntimeInfo as RuntimeInfoSchema } from '../../src/protocol/web.js';

export type { SessionInfo } from '../../src/protocol/socket.js';
export type { WsClientMessage, WsServerMessage } from '../../src/protocol/web.js';

export type RuntimeInfo = z.infer<typeof RuntimeInfoSchema>;
export type Role = 'admin' | 'viewer';

/** The session changes GET /api/events reports, each as an SSE event of that name. */
export type SessionEventName = 'created' | 'exited' | 'removed' | 'resized';
