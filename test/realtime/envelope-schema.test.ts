import { envelopeSchema, wellFormed } from '../../src/hub/envelope.schema';
import { MESSAGE_TYPES } from '../../src/shared/protocol';

// The hand-written check of a plainly valid envelope (src/hub/envelope.schema.ts, `wellFormed`) must
// never accept what the schema refuses, and must return what the schema returns.

const VALUES: Record<string, unknown[]> = {
  type: [...MESSAGE_TYPES, 'chat', 'CHAT ', '', 'toString', '__proto__', 1, null, undefined, {}],
  target_id: [undefined, null, 0, -0, 1, 42, 2 ** 53 - 1, 2 ** 53, -1, 1.5, NaN, Infinity, '1', true, [], {}],
  payload: [undefined, null, 'hi', 0, { a: [1, 'x'] }, [1, 2], false, ''],
  local_id: [undefined, null, 'l-1', 'x'.repeat(64), 'x'.repeat(65), '', 'a\u0000b', 'a\ud800', '\ud83d\ude00', 5, {}, []],
  stream_id: [undefined, null, 's-1', 'y'.repeat(128), 'y'.repeat(129), '', 'a\u0000', '\udfff', 7, true],
  reply_to: [undefined, null, 1, 2_147_483_647, 2_147_483_648, 0, -3, 2.5, NaN, '3', {}],
};

/** A deterministic stream of pseudo-random indices. */
function* indices(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    yield x;
  }
}

describe('the fast envelope check agrees with the schema', () => {
  it('on 20,000 envelopes made of valid and invalid field values', () => {
    const pick = indices(7);
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const raw: Record<string, unknown> = {};
      for (const [field, values] of Object.entries(VALUES)) {
        const v = values[pick.next().value % values.length];
        if (v !== undefined || pick.next().value % 2) raw[field] = v;
      }
      if (pick.next().value % 5 === 0) raw.sender_id = 99; // a server-set field a client may try to set
      const fast = wellFormed(raw);
      const schema = envelopeSchema.safeParse(raw);
      if (fast === undefined) continue;
      accepted++;
      expect({ raw, schemaAccepts: schema.success }).toEqual({ raw, schemaAccepts: true });
      expect({ raw, fast }).toEqual({ raw, fast: schema.data });
    }
    expect(accepted).toBeGreaterThan(500);
  });

  it('takes the common frames itself: a CHAT with a target, a payload and a local_id', () => {
    const chat = { type: 'CHAT', target_id: 7, payload: { text: 'hi' }, local_id: 'c-1' };
    expect(wellFormed(chat)).toEqual(chat);
    expect(wellFormed({ type: 'CHAT_STREAM', target_id: 7, payload: 'part', stream_id: 's' })).toEqual({ type: 'CHAT_STREAM', target_id: 7, payload: 'part', stream_id: 's' });
    expect(wellFormed({ ...chat, id: 5, sender_id: 1, timestamp: 'x' })).toEqual(chat);
  });
});
