/** Entry point: log in (from #token= or the cookie), then show the workspace or the login help. */
import '@xterm/xterm/css/xterm.css';
import './styles/base.css';
import './styles/sidebar.css';
import './styles/tabs.css';
import './styles/panes.css';
import './styles/panels.css';
import './styles/phone.css';
import { ApiError, api } from './api.js';
import { loginFromLocation, renderLoginHelp } from './login.js';
import { Workspace } from './workspace.js';

async function main(): Promise<void> {
  const root = document.getElementById('app')!;
  const login = await loginFromLocation();
  if (!login.ok) {
    renderLoginHelp(root, login.message);
    return;
  }
  try {
    await api.sessions();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      renderLoginHelp(root);
      return;
    }
  }
  await new Workspace(root, login.role).start();
}

main().catch((error: unknown) => {
  document.getElementById('app')!.textContent = `Tower failed to start: ${(error as Error).message}`;
});
