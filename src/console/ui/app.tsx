/** The console's top level: the sign-in screen, or the signed-in console for this tab's session. */
import { useState } from 'preact/hooks';
import { session } from '../client/api';
import type { UserObject } from '../state/console-state';
import { Shell } from './shell';
import { SignIn } from './sign-in';

export function App() {
  const [current, setCurrent] = useState(session.load());
  const [notice, setNotice] = useState<string | undefined>();
  if (!current) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(token: string, user: UserObject) => {
          session.save(token, user);
          setNotice(undefined);
          setCurrent({ token, user });
        }}
      />
    );
  }
  return (
    <Shell
      key={current.token}
      token={current.token}
      user={current.user}
      onSignOut={(message?: string) => {
        session.clear();
        setNotice(message);
        setCurrent(undefined);
      }}
    />
  );
}
