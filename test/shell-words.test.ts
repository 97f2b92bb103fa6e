/**
 * The spawn dialog's "Extra arguments" field is split into words the way a POSIX shell splits a
 * command line (quotes and backslashes), without expanding anything (web/src/shell-words.ts).
 */
import { describe, expect, it } from 'vitest';
import { splitShellWords } from '../web/src/shell-words.js';

describe('splitShellWords', () => {
  it('splits on blanks (spaces, tabs, newlines), however many', () => {
    expect(splitShellWords('--model opus   --verbose')).toEqual(['--model', 'opus', '--verbose']);
    expect(splitShellWords(' \t-a\n-b  ')).toEqual(['-a', '-b']);
    expect(splitShellWords('')).toEqual([]);
    expect(splitShellWords('   ')).toEqual([]);
  });

  it('keeps single-quoted text as one word, literally', () => {
    expect(splitShellWords(`-c 'echo hi; sleep 30'`)).toEqual(['-c', 'echo hi; sleep 30']);
    expect(splitShellWords(`'a \\ "b" $HOME'`)).toEqual(['a \\ "b" $HOME']);
  });

  it('keeps double-quoted text as one word; a backslash escapes only \\ " $ and `', () => {
    expect(splitShellWords(`"say \\"hi\\" to $USER" x`)).toEqual(['say "hi" to $USER', 'x']);
    expect(splitShellWords(`"C:\\dir" "a\\\\b" "\\$x"`)).toEqual(['C:\\dir', 'a\\b', '$x']);
  });

  it('joins quoted and bare parts of one word, and keeps empty quoted words', () => {
    expect(splitShellWords(`a'b c'"d e"f`)).toEqual(['ab cd ef']);
    expect(splitShellWords(`--name '' -x ""`)).toEqual(['--name', '', '-x', '']);
  });

  it('takes a backslash outside quotes as escaping the next character', () => {
    expect(splitShellWords(`it\\'s a\\ b \\\\`)).toEqual([`it's`, 'a b', '\\']);
  });

  it('expands nothing: no variables, globs, ~ or command substitution', () => {
    expect(splitShellWords('$HOME ~/x *.ts $(id) `id`')).toEqual(['$HOME', '~/x', '*.ts', '$(id)', '`id`']);
  });

  it('says what is wrong with an unterminated quote or a trailing backslash', () => {
    expect(() => splitShellWords(`-c 'echo hi`)).toThrow(/unterminated ' quote/);
    expect(() => splitShellWords(`"abc`)).toThrow(/unterminated " quote/);
    expect(() => splitShellWords('abc\\')).toThrow(/ends with a backslash/);
  });
});
