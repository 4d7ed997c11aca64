import type { z } from 'zod';
import type { IssuedToken } from '../../src/agents/agents.service';
import type { Session } from '../../src/auth/auth.service';
import type { AuthRequestView } from '../../src/butler/authorization.service';
import type { SystemLogEntry } from '../../src/messages/system-log.service';
import type * as s from '../../src/openapi/openapi.schemas';
import type { ErrorBody } from '../../src/shared/errors';
import type { Envelope } from '../../src/shared/protocol';
import type { AgentView, HumanView, UserView } from '../../src/users/user.view';

/** True when A and B are the same type (not merely assignable one way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Out<S extends z.ZodType> = z.output<S>;

/**
 * The documented response schemas have exactly the types the code builds responses with, so a field
 * added to a view without the document (or the other way round) fails `tsc`, also for responses the
 * live test in openapi.test.ts sees empty (authorization requests).
 */
const SAME: Record<string, true> = {
  human: true satisfies Same<Out<typeof s.humanSchema>, HumanView>,
  agent: true satisfies Same<Out<typeof s.agentSchema>, AgentView>,
  user: true satisfies Same<Out<typeof s.userSchema>, UserView>,
  session: true satisfies Same<Out<typeof s.sessionSchema>, Session>,
  issued: true satisfies Same<Out<typeof s.issuedTokenSchema>, IssuedToken>,
  // The document names the five levels where the payload type says `string`: the rest must agree.
  systemLog: true satisfies Same<Omit<Out<typeof s.systemLogEntrySchema>, 'level'>, Omit<SystemLogEntry, 'level'>>,
  envelope: true satisfies Same<Out<typeof s.envelopeSchema>, Envelope>,
  authRequest: true satisfies Same<Out<typeof s.authRequestSchema>, AuthRequestView>,
  error: true satisfies Same<Out<typeof s.errorSchema>, ErrorBody>,
};

describe('OpenAPI response schemas', () => {
  it('have the types of the views the routes return (the check is tsc; this names it in the run)', () => {
    expect(Object.values(SAME)).toEqual(Array(9).fill(true));
  });
});
