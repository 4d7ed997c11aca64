/** Sign in with username and password; says plainly why a login was refused. */
import { useState } from 'preact/hooks';
import { Api, ApiError } from '../client/api';
import type { UserObject } from '../state/console-state';
import { signInMessage } from '../state/format';

export function SignIn({ notice, onSignedIn }: { notice?: string; onSignedIn(token: string, user: UserObject): void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const { token, user } = await new Api(undefined).login(username.trim(), password);
      if (user.role !== 'ADMIN' && user.role !== 'MEMBER') throw new ApiError(403, 'FORBIDDEN', 'Only people sign in here.');
      onSignedIn(token, user);
    } catch (err) {
      const e = err as ApiError;
      setError(e.code === 'FORBIDDEN' ? e.message : signInMessage(e.status ?? 0, e.code));
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">EchoCenter</h1>
        <p class="muted">Sign in to talk with people, agents and the Butler.</p>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
