/** Stop strings over streamed text: the output ends before the first one, and no part of one is ever shown. */
import { expect, test } from '@jest/globals';
import { StopAwareText } from '../../gpu-runner/src/text-stream.js';

function feed(stops: string[], pieces: string[]) {
  const t = new StopAwareText(stops);
  const shown = pieces.map((p) => t.push(p));
  return { shown, flushed: t.flush(), output: t.output, stopped: t.stopped };
}

test('without stop strings every piece is shown at once', () => {
  expect(feed([], ['a', 'bc', 'd'])).toEqual({ shown: ['a', 'bc', 'd'], flushed: '', output: 'abcd', stopped: false });
});

test('a stop string split over pieces is held back, then cut', () => {
  expect(feed(['END'], ['one E', 'N', 'D two'])).toEqual({ shown: ['one ', '', ''], flushed: '', output: 'one ', stopped: true });
});

test('held-back text that turns out not to be a stop string is shown with the next piece', () => {
  expect(feed(['END'], ['one E', 'Nx', ' two'])).toEqual({ shown: ['one ', 'ENx', ' two'], flushed: '', output: 'one ENx two', stopped: false });
});

test('at the end, held-back text is flushed', () => {
  expect(feed(['END'], ['one EN'])).toEqual({ shown: ['one '], flushed: 'EN', output: 'one EN', stopped: false });
});

test('the earliest of several stop strings wins, and nothing after a stop is taken', () => {
  const t = new StopAwareText(['\n\n', 'b']);
  expect(t.push('a\n\nb')).toBe('a');
  expect(t.push('more')).toBe('');
  expect(t.output).toBe('a');
});
