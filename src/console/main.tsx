/** Entry point of the web console (built by Vite into dist/console, served by the server at `/`). */
import { render } from 'preact';
import { App } from './ui/app';
import './styles.css';

render(<App />, document.getElementById('app')!);
