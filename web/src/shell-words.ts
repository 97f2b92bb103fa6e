/**
 * Splits a command line into words the way a POSIX shell does, and does nothing else: blanks separate
 * words; '…' keeps text literally; "…" keeps text with \ escaping only \ " $ and `; a backslash outside
 * quotes escapes the next character; quoted and bare parts of a word join. Nothing is expanded (no
 * variables, globs, ~ or substitutions): the words go to the program as they are.
 */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  /** Whether a word has started (a quoted empty string is a word). */
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) throw new Error(`unterminated ' quote: ${line.slice(i)}`);
      word += line.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      const start = i++;
      for (;;) {
        if (i >= line.length) throw new Error(`unterminated " quote: ${line.slice(start)}`);
        const inner = line[i]!;
        if (inner === '"') break;
        if (inner === '\\' && i + 1 < line.length && '\\"$`'.includes(line[i + 1]!)) {
          word += line[i + 1];
          i += 2;
        } else {
          word += inner;
          i++;
        }
      }
      i++;
    } else if (ch === '\\') {
      if (i + 1 >= line.length) throw new Error('ends with a backslash: escape it (\\\\) or quote it');
      word += line[i + 1];
      i += 2;
    } else {
      word += ch;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
