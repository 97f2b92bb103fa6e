/**
 * `tower attach PEER/ID`: a peer's session through the local serve's web API (/ws/terminal/PEER%2FID),
 * which relays it with the peer's credential and resumes it by offset when the peer drops. The view,
 * the detach key and size ownership are those of a local attach (attach.ts); the server says who owns
 * the size (`size` messages) instead of the daemon's resize events.
 */
import { StringDecoder } from 'node:string_decoder';
import { localWebEndpoint } from '../client/local-web.js';
import { WebTerminalClient } from '../client/web-terminal.js';
import type { WsServerMessage } from '../protocol/web.js';
import { releaseTerminal, SessionView, type Size, TITLE_RESTORE, titleWhileAway } from './attach-view.js';
import { DetachKeyFilter } from './detach-key.js';
import { escapeControls } from './escape.js';
import { QueryReplyFilter } from './query-replies.js';

export function attachRemote(stateDir: string, fleetId: string, detachKey: number): Promise<number> {
  return new RemoteAttachment(localWebEndpoint(stateDir), fleetId, detachKey).run();
}

class RemoteAttachment {
  private readonly stdin = process.stdin;
  private readonly stdout = process.stdout;
  private readonly view: SessionView;
  private readonly replies = new QueryReplyFilter();
  private readonly keys: DetachKeyFilter;
  private readonly decoder = new StringDecoder('utf8');
  private client: WebTerminalClient | null = null;
  private done: (code: number) => void = () => {};
  private finished = false;
  private live = false;
  private away = false;
  private owner = true;
  private sessionSize: Size = { cols: 0, rows: 0 };

  constructor(
    private readonly endpoint: { url: string; token: string },
    private readonly fleetId: string,
    detachKey: number,
  ) {
    const keyName = `Ctrl-${String.fromCharCode(detachKey + 0x40)}`;
    this.view = new SessionView(this.stdout, `type to take the size; ${keyName} detaches`);
    this.keys = new DetachKeyFilter(detachKey, (event) => {
      if (event.type === 'detach') this.finish(`[detached from ${this.fleetId}; it keeps running]`, 0);
      else this.typed(event.data);
    });
  }

  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.done = resolve;
      this.client = new WebTerminalClient(
        { url: this.endpoint.url, token: this.endpoint.token, sessionId: this.fleetId, autoAck: true },
        {
          hello: (message, first) => {
            if (first) this.started(message);
          },
          snapshot: (snapshot) => {
            this.sessionSize = { cols: snapshot.cols, rows: snapshot.rows };
            this.view.paint(snapshot);
          },
          output: (_offset, data) => {
            // Only a terminal that sees the program's queries answers them (the fitted view draws cells).
            if (!this.view.fitted) this.replies.sawOutput(data);
            this.view.output(data);
          },
          size: (message) => this.sized(message),
          exit: ({ exit_code, signal }) =>
            this.finish(
              `[session ${this.fleetId} exited (${signal ? `signal ${signal}` : `code ${exit_code}`})]`,
              0,
            ),
          error: (message) => {
            if (message.error === 'forbidden') this.title(`tower: ${message.message}`);
          },
          state: (state, detail) => this.stateChanged(state, detail),
          end: (end) => this.finish(`[tower: ${end.message}]`, 1),
        },
      );
    });
  }

  private started(hello: Extract<WsServerMessage, { type: 'hello' }>): void {
    this.live = hello.session.status === 'running';
    this.sessionSize = { cols: hello.session.cols, rows: hello.session.rows };
    if (!this.live) return;
    if (this.stdin.isTTY) this.stdin.setRawMode(true);
    this.stdin.resume();
    this.stdin.on('data', this.onKeys);
    this.stdout.on('resize', this.onLocalResize);
    if (hello.role === 'admin') this.takeSize();
  }

  private local(): Size {
    return { cols: this.stdout.columns || 80, rows: this.stdout.rows || 24 };
  }

  private takeSize(): void {
    if (!this.stdout.isTTY) return;
    this.owner = true;
    const local = this.local();
    if (this.sessionSize.cols !== local.cols || this.sessionSize.rows !== local.rows)
      this.client?.resize(local.cols, local.rows);
  }

  private sized(message: Extract<WsServerMessage, { type: 'size' }>): void {
    this.owner = message.owner;
    this.sessionSize = { cols: message.cols, rows: message.rows };
    if (this.view.resized(this.sessionSize)) this.client?.requestSnapshot();
  }

  private readonly onKeys = (chunk: Buffer) => this.keys.push(chunk);

  private readonly onLocalResize = () => {
    if (this.finished) return;
    if (this.owner) this.takeSize();
    else if (this.view.resized()) this.client?.requestSnapshot();
  };

  private typed(data: Buffer): void {
    const input = this.replies.filterInput(data);
    if (input.length === 0 || this.finished) return;
    const local = this.local();
    if (!this.owner || this.sessionSize.cols !== local.cols || this.sessionSize.rows !== local.rows)
      this.takeSize();
    const text = this.decoder.write(input);
    if (text.length > 0 && this.client?.input(text) === false)
      this.title('tower: input not sent: too much waiting for the peer');
  }

  private stateChanged(state: string, detail?: string): void {
    if (state === 'reconnecting' && !this.away) {
      this.away = true;
      this.title(`tower: reconnecting to ${this.fleetId}${detail ? ` (${detail})` : ''}`);
    } else if (state === 'open' && this.away) {
      this.away = false;
      this.stdout.write(TITLE_RESTORE);
    }
  }

  private title(text: string): void {
    this.stdout.write(titleWhileAway(escapeControls(text)));
    if (!this.away) this.stdout.write(TITLE_RESTORE);
  }

  private finish(message: string, code: number): void {
    if (this.finished) return;
    this.finished = true;
    this.keys.cancel();
    releaseTerminal(this.view, { keys: this.onKeys, resize: this.onLocalResize }, this.away, message);
    this.client?.close();
    this.done(code);
  }
}
