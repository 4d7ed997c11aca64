import { AuthRequestSchema } from './butler/auth-request.entity';
import { HumanCredentialSchema, MachineCredentialSchema } from './auth/credential.entity';
import { ChatMessageSchema } from './messages/chat-message.entity';
import { SystemLogSchema } from './messages/system-log.entity';
import { UserSchema } from './users/user.entity';

/**
 * The one list of entities the ORM sees. Each lives next to its repository in its module; the list
 * is the composition root's, so that `db/` (which every module uses) imports no module.
 */
export const ENTITIES = [UserSchema, HumanCredentialSchema, MachineCredentialSchema, ChatMessageSchema, SystemLogSchema, AuthRequestSchema];
