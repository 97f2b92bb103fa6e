/** Wire types, taken from the daemon's own schemas (type-only: nothing of zod reaches the bundle). */
import type { z } from 'zod';
import type { FleetSession as SessionInfo } from '../../src/protocol/federation.js';
import type {
  AttentionEvent as AttentionEventSchema,
  BootstrapStreamEvent as BootstrapStreamEventSchema,
  PromptInfo as PromptInfoSchema,
  RuntimeInfo as RuntimeInfoSchema,
  SubstrateInfo as SubstrateInfoSchema,
} from '../../src/protocol/web.js';

/** A session of this Tower, or of a peer (then `peer` is set and its id is `PEER/ID`). */
export type { FleetSession as SessionInfo, PeerStatus } from '../../src/protocol/federation.js';
export type { WsClientMessage, WsServerMessage } from '../../src/protocol/web.js';

export type RuntimeInfo = z.infer<typeof RuntimeInfoSchema>;
export type AnswerKeys = NonNullable<RuntimeInfo['answers']>;
export type SubstrateInfo = z.infer<typeof SubstrateInfoSchema>;
export type PromptInfo = z.infer<typeof PromptInfoSchema>;
export type BootstrapStreamEvent = z.infer<typeof BootstrapStreamEventSchema>;
export type AttentionEvent = z.infer<typeof AttentionEventSchema>;
export type AgentState = SessionInfo['agent']['state'];
export type Role = 'admin' | 'viewer';

/** The session changes GET /api/events reports, each as an SSE event of that name. */
export type { SessionEventName } from '../../src/protocol/names.js';
