import { EntitySchema } from '@mikro-orm/core';

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'SUCCESS'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A system log entry; its ids are their own sequence, apart from the message log. */
export class SystemLog {
  id!: number;
  /** null for an admin's entry. */
  agentId: number | null = null;
  agentName!: string;
  level!: LogLevel;
  content!: string;
  createdAt!: Date;
}

export const SystemLogSchema = new EntitySchema<SystemLog>({
  class: SystemLog,
  tableName: 'system_logs',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    agentId: { type: 'integer', nullable: true },
    agentName: { type: 'string', length: 64 },
    level: { type: 'string', length: 16 },
    content: { type: 'text' },
    createdAt: { type: 'datetime', length: 3 },
  },
  indexes: [
    { name: 'system_logs_agent_id_index', properties: ['agentId', 'id'] },
    { name: 'system_logs_level_index', properties: ['level', 'id'] },
  ],
});
