/** The attention tool: what a person should look at, across the fleet, from the lists the web API gives. */
import type { TowerHttpClient } from '../client/http-client.js';
import { API } from '../protocol/api.js';

/** Failed prompts older than this are history, not something to act on. */
const RECENT_MS = 60 * 60 * 1000;
const MAX_ITEMS = 100;

export interface AttentionItem {
  session_id: string;
  kind: 'needs_input' | 'lost' | 'prompt_failed';
  detail: string;
}

export async function attention(client: TowerHttpClient): Promise<AttentionItem[]> {
  const [{ sessions }, { prompts }] = await Promise.all([
    client.call(API.listSessions, { query: { scope: 'all' } }),
    client.call(API.prompts),
  ]);
  const items: AttentionItem[] = [];
  for (const session of sessions) {
    if (session.status === 'running' && session.agent.state === 'needs_input') {
      items.push({ session_id: session.id, kind: 'needs_input', detail: session.agent.reason });
    } else if (session.status === 'lost') {
      items.push({ session_id: session.id, kind: 'lost', detail: 'it was running when its daemon stopped' });
    }
  }
  const since = Date.now() - RECENT_MS;
  for (const prompt of prompts) {
    if (prompt.state !== 'failed' || Date.parse(prompt.queued_at) < since) continue;
    items.push({
      session_id: prompt.session_id,
      kind: 'prompt_failed',
      detail: `prompt ${prompt.id}: ${prompt.error ?? 'failed'}`,
    });
  }
  return items.slice(0, MAX_ITEMS);
}
