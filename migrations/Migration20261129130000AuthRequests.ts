import { Migration } from '@mikro-orm/migrations';
import { isPostgres } from '../src/db/dialect';

/** The Butler's authorization requests (PROTOCOL §6). SQL generated from the entity, per dialect. */
export class Migration20261129130000AuthRequests extends Migration {
  override async up(): Promise<void> {
    for (const sql of isPostgres(this.driver.getPlatform()) ? POSTGRES : SQLITE) this.addSql(sql);
  }
}

const SQLITE = [
  'create table `auth_requests` (`id` integer not null primary key autoincrement, `action_id` text not null, `requester_id` integer not null, `target_agent_id` integer not null, `target_agent_name` text not null, `command` text not null, `reason` text not null, `status` text not null, `decided_by` integer null, `decided_at` datetime null, `expires_at` datetime not null, `created_at` datetime not null, `result` text null, `directive_id` integer null, `deadline_at` datetime null, `updated_at` datetime not null);',
  'create unique index `auth_requests_action_id_unique` on `auth_requests` (`action_id`);',
  'create index `auth_requests_status_expires_index` on `auth_requests` (`status`, `expires_at`);',
  'create index `auth_requests_requester_index` on `auth_requests` (`requester_id`, `id`);',
  'create index `auth_requests_agent_status_index` on `auth_requests` (`target_agent_id`, `status`, `directive_id`);',
];

const POSTGRES = [
  'create table "auth_requests" ("id" serial primary key, "action_id" varchar(64) not null, "requester_id" int not null, "target_agent_id" int not null, "target_agent_name" varchar(64) not null, "command" text not null, "reason" text not null, "status" varchar(16) not null, "decided_by" int null, "decided_at" timestamptz(3) null, "expires_at" timestamptz(3) not null, "created_at" timestamptz(3) not null, "result" text null, "directive_id" int null, "deadline_at" timestamptz(3) null, "updated_at" timestamptz(3) not null);',
  'alter table "auth_requests" add constraint "auth_requests_action_id_unique" unique ("action_id");',
  'create index "auth_requests_status_expires_index" on "auth_requests" ("status", "expires_at");',
  'create index "auth_requests_requester_index" on "auth_requests" ("requester_id", "id");',
  'create index "auth_requests_agent_status_index" on "auth_requests" ("target_agent_id", "status", "directive_id");',
];
