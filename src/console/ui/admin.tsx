/**
 * Administration (admins): users (create, delete) and agents (create, rotate the token, test a
 * token, delete). A new or rotated API token lives only in this component's state: it is shown once,
 * with a copy button, and is gone when dismissed or when the page is left.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ApiError } from '../client/api';
import type { UserObject } from '../state/console-state';
import type { Ctx } from './shell';

const errorText = (err: unknown) => (err as ApiError).message ?? String(err);

export function AdminScreen({ ctx }: { ctx: Ctx }) {
  return (
    <div class="admin">
      <UsersPanel ctx={ctx} />
      <AgentsPanel ctx={ctx} />
    </div>
  );
}

function UsersPanel({ ctx }: { ctx: Ctx }) {
  const [users, setUsers] = useState<UserObject[]>([]);
  const [form, setForm] = useState({ username: '', password: '', role: 'MEMBER' as 'ADMIN' | 'MEMBER' });
  const [message, setMessage] = useState<{ error?: string; ok?: string }>({});
  const reload = async () => {
    const list = await ctx.api.users();
    setUsers(list.filter((u) => u.role === 'ADMIN' || u.role === 'MEMBER'));
    ctx.state.setPeople(list);
  };
  useEffect(() => void reload().catch((err) => setMessage({ error: errorText(err) })), []);

  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const { user } = await ctx.api.createUser(form.username.trim(), form.password, form.role);
      setForm({ username: '', password: '', role: 'MEMBER' });
      setMessage({ ok: `Created ${user.username}.` });
      await reload();
    } catch (err) {
      setMessage({ error: errorText(err) });
    }
  };
  const remove = async (u: UserObject) => {
    if (!confirm(`Delete ${u.username}? Their sessions end at once.`)) return;
    try {
      await ctx.api.deleteUser(u.id);
      setMessage({ ok: `Deleted ${u.username}.` });
      await reload();
    } catch (err) {
      setMessage({ error: errorText(err) });
    }
  };

  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">People</h2>
      <form class="inline-form" onSubmit={create}>
        <label for="new-user-name">Username</label>
        <input id="new-user-name" required value={form.username} onInput={(e) => setForm({ ...form, username: e.currentTarget.value })} />
        <label for="new-user-password">Password</label>
        <input id="new-user-password" type="password" required minLength={8} autocomplete="new-password" value={form.password} onInput={(e) => setForm({ ...form, password: e.currentTarget.value })} />
        <label for="new-user-role">Role</label>
        <select id="new-user-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.currentTarget.value as 'ADMIN' | 'MEMBER' })}>
          <option value="MEMBER">Member</option>
          <option value="ADMIN">Admin</option>
        </select>
        <button type="submit">Create user</button>
      </form>
      {message.error && <p class="error" role="alert">{message.error}</p>}
      {message.ok && <p class="ok" role="status">{message.ok}</p>}
      <table>
        <thead>
          <tr><th>Name</th><th>Role</th><th>Since</th><th><span class="sr-only">Actions</span></th></tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id} data-user={u.username}>
              <td>{u.username}</td>
              <td>{u.role.toLowerCase()}</td>
              <td>{new Date(u.created_at).toLocaleDateString()}</td>
              <td>
                {u.id !== ctx.state.me.id && (
                  <button type="button" class="danger" aria-label={`Delete ${u.username}`} onClick={() => void remove(u)}>Delete</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function AgentsPanel({ ctx }: { ctx: Ctx }) {
  const { state } = ctx;
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [shown, setShown] = useState<{ agent: string; token: string } | undefined>();
  const [copied, setCopied] = useState(false);
  const [message, setMessage] = useState<{ error?: string; ok?: string }>({});
  const [testToken, setTestToken] = useState('');
  const [testResult, setTestResult] = useState<string | undefined>();
  const agents = [...state.agents.values()].filter((a) => a.role === 'AGENT').sort((a, b) => a.id - b.id);
  const reload = async () => state.setAgents(await ctx.api.agents());

  const reveal = (agent: string, token: string) => {
    setShown({ agent, token });
    setCopied(false);
  };
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const { agent, api_token } = await ctx.api.createAgent(name.trim(), description.trim() || undefined);
      setName('');
      setDescription('');
      setMessage({ ok: `Created agent ${agent.username}.` });
      reveal(agent.username, api_token);
      await reload();
    } catch (err) {
      setMessage({ error: errorText(err) });
    }
  };
  const rotate = async (a: UserObject) => {
    if (!confirm(`Rotate the token of ${a.username}? The old one stops working at once.`)) return;
    try {
      const { api_token } = await ctx.api.rotateToken(a.id);
      setMessage({ ok: `Rotated the token of ${a.username}.` });
      reveal(a.username, api_token);
      await reload();
    } catch (err) {
      setMessage({ error: errorText(err) });
    }
  };
  const remove = async (a: UserObject) => {
    if (!confirm(`Delete agent ${a.username}?`)) return;
    try {
      await ctx.api.deleteAgent(a.id);
      state.agents.delete(a.id);
      setMessage({ ok: `Deleted agent ${a.username}.` });
      await reload();
    } catch (err) {
      setMessage({ error: errorText(err) });
    }
  };
  const test = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await ctx.api.testConnection(testToken.trim());
      setTestResult(r.valid ? `Valid: the token of ${r.username} (id ${r.agent_id}).` : 'Not valid: no agent has this token.');
    } catch (err) {
      setTestResult(errorText(err));
    }
  };
  const copy = async () => {
    if (!shown) return;
    try {
      await navigator.clipboard.writeText(shown.token);
      setCopied(true);
    } catch {
      // Clipboard access can be refused (no secure context, no permission): select the text instead.
      const el = document.getElementById('shown-token');
      if (el) getSelection()?.selectAllChildren(el);
    }
  };

  return (
    <section aria-labelledby="agents-admin-title">
      <h2 id="agents-admin-title">Agents</h2>
      <form class="inline-form" onSubmit={create}>
        <label for="new-agent-name">Agent name</label>
        <input id="new-agent-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="new-agent-description">Description</label>
        <input id="new-agent-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        <button type="submit">Create agent</button>
      </form>
      {message.error && <p class="error" role="alert">{message.error}</p>}
      {message.ok && <p class="ok" role="status">{message.ok}</p>}
      {shown && (
        <div class="token-once" role="region" aria-label="New API token">
          <p>
            The API token of <strong>{shown.agent}</strong>. It is shown <strong>only now</strong>: copy it into the agent's configuration.
          </p>
          <code id="shown-token" data-testid="api-token">{shown.token}</code>
          <div class="buttons">
            <button type="button" onClick={() => void copy()}>{copied ? 'Copied' : 'Copy'}</button>
            <button type="button" class="link" onClick={() => setShown(undefined)}>I have stored it</button>
          </div>
        </div>
      )}
      <table>
        <thead>
          <tr><th>Name</th><th>Presence</th><th>Token</th><th><span class="sr-only">Actions</span></th></tr>
        </thead>
        <tbody>
          {agents.map((a) => (
            <tr key={a.id} data-agent={a.username}>
              <td>{a.username}</td>
              <td>{a.online ? 'online' : 'offline'}</td>
              <td><code class="hint">{a.token_hint ?? '—'}</code></td>
              <td class="buttons">
                <button type="button" aria-label={`Rotate token of ${a.username}`} onClick={() => void rotate(a)}>Rotate token</button>
                <button type="button" class="danger" aria-label={`Delete ${a.username}`} onClick={() => void remove(a)}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="inline-form" onSubmit={test}>
        <label for="test-token">API token to test</label>
        <input id="test-token" autocomplete="off" value={testToken} onInput={(e) => setTestToken(e.currentTarget.value)} />
        <button type="submit">Test connection</button>
      </form>
      {testResult && <p role="status">{testResult}</p>}
    </section>
  );
}
