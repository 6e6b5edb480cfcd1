/** What both task text fields (new task, edit) share: the length note and the input-method guard. */
import { computed } from 'vue';
import { MAX_TASK_LENGTH, taskLength } from '../../../functions/api/task-text';

/** How close to the API's limit starts the count under the field, so reaching it is never a surprise. */
const SHOW_WITHIN = 20;

/**
 * The live length note for a task field. Counted as the API counts what the page will send: the
 * trimmed text, in code points. The fields have no `maxlength`: browsers count that in UTF-16 units
 * and would silently cut emoji text short (200 emoji to 127).
 * `message` is '' until the text is within {@link SHOW_WITHIN} of the limit; `over` > 0 means too long.
 */
export function useTextLimit(text: () => string) {
  const length = computed(() => taskLength(text().trim()));
  const over = computed(() => length.value - MAX_TASK_LENGTH);
  const message = computed(() =>
    length.value <= MAX_TASK_LENGTH - SHOW_WITHIN
      ? ''
      : over.value > 0
        ? `${length.value} of ${MAX_TASK_LENGTH} characters: remove ${over.value} to save`
        : `${length.value} of ${MAX_TASK_LENGTH} characters`,
  );
  return { over, message };
}

/**
 * True while an input method (Chinese, Japanese, Korean input, dictation) is composing: the key
 * belongs to it (Enter picks a candidate, Escape drops the composition), not to the page. Safari
 * sends the Enter that ends a composition after `compositionend`, with keyCode 229 and
 * `isComposing` false, hence both checks.
 */
export const composing = (event: KeyboardEvent) => event.isComposing || event.keyCode === 229;
