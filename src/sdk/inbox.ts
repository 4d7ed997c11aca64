import type { Envelope } from '../shared/protocol';
import type { CursorKeeper } from './cursor-keeper';
import { asDirective, runDirective, type Directive, type DirectiveHandler, type DirectivePorts } from './directives';

export type MessageHandler = (message: Envelope) => void;

/** What the inbox needs from the client around it. */
export interface InboxPorts extends DirectivePorts {
  warn(err: unknown): void;
  closed(): boolean;
}

/**
 * Everything the server delivers, handed to the program once: by id for ordinary messages (replay
 * and live may overlap), by action id for directives (the server hands each open directive to every
 * handshake, whatever `last_id` says). Directives run one at a time, in arrival order.
 */
export class Inbox {
  private readonly handlers: MessageHandler[] = [];
  private directiveHandler: DirectiveHandler | undefined;
  /** Directives received and not yet answered (queued or running), by action id. */
  private readonly open = new Map<string, Directive>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly cursor: CursorKeeper,
    private readonly ports: InboxPorts,
  ) {}

  onMessage(handler: MessageHandler): void {
    this.handlers.push(handler);
  }

  onDirective(handler: DirectiveHandler): void {
    this.directiveHandler = handler;
    this.runDirectives();
  }

  /** Resolves when no directive is running (close() waits for it to answer). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  receive(e: Envelope): void {
    if (!e || typeof e !== 'object') return;
    if (this.cursor.agentId === undefined && e.target_id != null && e.sender_role !== 'AGENT' && e.sender_role !== 'SYSTEM') {
      // Humans and the Butler reach an agent only with messages addressed to it.
      this.cursor.agentId = e.target_id;
    }
    const directive = asDirective(e);
    if (directive) {
      if (!this.cursor.isAnswered(directive.actionId) && !this.open.has(directive.actionId)) {
        this.open.set(directive.actionId, directive);
        this.runDirectives();
      }
      // The cursor moves on at once: an unanswered directive comes back at the next handshake while
      // its action is open, and once it is closed there is nothing left to answer.
      this.cursor.advance(directive.messageId);
      return;
    }
    if (e.id !== undefined) {
      if (e.id <= this.cursor.lastId) return; // a copy of a message already handled
      this.cursor.advance(e.id);
    }
    if (this.isOwn(e)) return; // a replay includes what this agent sent
    for (const h of this.handlers) {
      try {
        h(e);
      } catch (err) {
        this.ports.warn(err);
      }
    }
  }

  /** Before the agent's id is known, its own sends are recognised by the SDK's `local_id` prefixes. */
  private isOwn(e: Envelope): boolean {
    if (e.sender_role !== 'AGENT') return false;
    const self = this.cursor.agentId;
    return self !== undefined ? e.sender_id === self : e.target_id !== null && typeof e.local_id === 'string' && /^(ec|ans)_/.test(e.local_id);
  }

  private runDirectives(): void {
    if (this.running || !this.directiveHandler || this.ports.closed()) return;
    this.running = (async () => {
      for (const [actionId, d] of this.open) {
        if (!this.directiveHandler || this.ports.closed()) break;
        try {
          await runDirective(d, this.directiveHandler, this.ports);
          this.cursor.markAnswered(actionId);
        } catch (err) {
          this.ports.warn(err);
        }
        this.open.delete(actionId);
      }
    })().finally(() => {
      this.running = undefined;
      if (this.open.size) this.runDirectives();
    });
  }
}
