import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Where an agent has got to: the highest message id it handled (sent as `auth.last_id` when it
 * reconnects, so the server replays what it missed) and the action ids of the directives it answered
 * (the server hands an open directive to every handshake, so an answered one may come again until its
 * action is closed; these ids keep it from reaching the handler twice).
 */
export interface AgentCursor {
  lastId: number;
  /** Answered action ids, oldest first, bounded (see MAX_ANSWERED). */
  answered: string[];
  /** The agent's own user id, once learned from a message addressed to it. */
  agentId?: number;
}

/** Keeps a cursor between runs of an agent program. Plug in your own (a database row, a KV key…). */
export interface CursorStore {
  /** The saved cursor, or undefined before the first save. */
  load(): Promise<AgentCursor | undefined>;
  save(cursor: AgentCursor): Promise<void>;
}

/**
 * Answered ids kept. An action stays open for at most BUTLER_AGENT_TIMEOUT after its directive, so
 * only recent answers can be redelivered; a few hundred covers any realistic burst.
 */
export const MAX_ANSWERED = 500;

/** A cursor in memory only: a restarted process starts over (tests, throwaway agents). */
export class MemoryCursorStore implements CursorStore {
  private cursor: AgentCursor | undefined;
  constructor(initial?: AgentCursor) {
    this.cursor = initial && copy(initial);
  }
  async load(): Promise<AgentCursor | undefined> {
    return this.cursor && copy(this.cursor);
  }
  async save(cursor: AgentCursor): Promise<void> {
    this.cursor = copy(cursor);
  }
}

/**
 * A cursor in a JSON file. Each save writes a temp file next to it and renames it over the old one,
 * so a process killed mid-write leaves the previous cursor, never half a file.
 */
export class FileCursorStore implements CursorStore {
  private seq = 0;
  constructor(readonly path: string) {}

  async load(): Promise<AgentCursor | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return parseCursor(JSON.parse(text), this.path);
  }

  async save(cursor: AgentCursor): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temp = `${this.path}.${process.pid}.${++this.seq}.tmp`;
    await writeFile(temp, `${JSON.stringify(cursor)}\n`, { mode: 0o600 });
    await rename(temp, this.path);
  }
}

function parseCursor(raw: unknown, where: string): AgentCursor {
  const c = raw as Partial<AgentCursor> | null;
  if (!c || typeof c !== 'object' || !Number.isSafeInteger(c.lastId) || (c.lastId as number) < 0 || !Array.isArray(c.answered)) {
    throw new Error(`${where} is not an agent cursor`);
  }
  const cursor: AgentCursor = { lastId: c.lastId as number, answered: c.answered.filter((a): a is string => typeof a === 'string') };
  if (Number.isSafeInteger(c.agentId)) cursor.agentId = c.agentId;
  return cursor;
}

function copy(c: AgentCursor): AgentCursor {
  return { ...c, answered: [...c.answered] };
}
