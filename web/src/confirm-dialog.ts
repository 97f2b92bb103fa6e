/**
 * Asks before something that cannot be taken back (killing a session, deleting one and its output):
 * a modal dialog that names what goes. Cancel, Escape or a click outside keep everything as it was.
 * The dialog exists only while it asks.
 */
import { h } from './dom.js';
import { commandLine, sessionTitle } from './status-badge.js';
import type { SessionInfo } from './types.js';

interface Question {
  title: string;
  text: string;
  confirm: string;
}

function ask(question: Question): Promise<boolean> {
  return new Promise((resolve) => {
    const confirm = h('button.primary.danger', { type: 'submit', value: 'confirm' }, question.confirm);
    const dialog = h(
      'dialog.confirm-dialog',
      { 'aria-label': question.title },
      h(
        'form',
        { method: 'dialog' },
        h('h2', null, question.title),
        h('p', null, question.text),
        h(
          'div.form-buttons',
          null,
          h('button', { type: 'submit', value: 'cancel', autofocus: true }, 'Cancel'),
          confirm,
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    // A click on the backdrop lands on the dialog itself, outside its form.
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) dialog.close('cancel');
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

function outputSize(session: SessionInfo): string {
  const bytes = Math.max(0, session.last_offset - session.first_offset);
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function confirmKill(session: SessionInfo): Promise<boolean> {
  const title = sessionTitle(session, session.id);
  return ask({
    title: `Kill ${title}?`,
    text:
      `Tower will hang up ${title} (${commandLine(session)}): SIGHUP, then SIGKILL after 2 s. ` +
      'Whatever it is doing stops and cannot be resumed as it was; its output stays readable.',
    confirm: 'Kill',
  });
}

export function confirmDelete(session: SessionInfo): Promise<boolean> {
  const title = sessionTitle(session, session.id);
  return ask({
    title: `Delete ${title}?`,
    text: `${title} and all its output (${outputSize(session)}) will be deleted for good. This cannot be undone.`,
    confirm: 'Delete',
  });
}
