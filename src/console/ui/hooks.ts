/** Preact glue: re-render on state changes, a clock for countdowns, and the client-side router. */
import { useEffect, useState } from 'preact/hooks';
import type { ConsoleState } from '../state/console-state';

/** Re-renders the caller whenever the state changes. */
export function useConsoleState(state: ConsoleState): number {
  const [, setRevision] = useState(state.revision);
  useEffect(() => state.subscribe(() => setRevision(state.revision)), [state]);
  return state.revision;
}

/** The current time, ticking every second while mounted (for countdowns). */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}

/** The path of the page, kept in step with the history API. */
export function usePath(): [string, (path: string) => void] {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const go = (next: string) => {
    if (next !== location.pathname) history.pushState(null, '', next);
    setPath(next);
  };
  return [path, go];
}
