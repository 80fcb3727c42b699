// Prompt templates: how one example becomes the text of one shot, and exactly which characters are targets.
//
// A context is   [BOS] prompt(x1) target(y1) separator prompt(x2) target(y2) separator ... prompt(xK) target(yK) [padding]
//
//   prompt    text before the answer ('{input}', '{choices}' filled in). No loss.
//   target    the labelled text: '{answer}' plus what the template puts around it. With the default templates
//             that is a leading space and the end-of-answer newline, e.g. ' blue\n', so the model also learns
//             where an answer stops. Every token of the target is a label; nothing else is.
//   separator text between a target and the next shot's prompt (the blank line between shots). No loss.
//
// The packer encodes prompt, target and separator separately and concatenates their ids, so a target's
// tokens never merge with the text around it and its span is exact for any tokenizer.
import type { Example, TaskFamily } from './tasks';

export interface PromptTemplate {
  id: string;
  /** Shot text before the answer: '{input}' is the example input, '{choices}' its choices joined by ', '. */
  prompt: string;
  /** The labelled text; must contain '{answer}' once. */
  target: string;
  /** Unlabelled text between one shot's target and the next shot's prompt. */
  separator: string;
}

export interface RenderedShot {
  prompt: string;
  target: string;
}

function fill(text: string, field: string, value: string): string {
  return text.split(`{${field}}`).join(value);
}

export function checkTemplate(template: PromptTemplate): void {
  if (template.target.split('{answer}').length !== 2) {
    throw new Error(`template ${template.id}: the target must contain '{answer}' exactly once`);
  }
  if (template.prompt.includes('{answer}') || template.separator.includes('{answer}')) {
    throw new Error(`template ${template.id}: '{answer}' may only appear in the target`);
  }
}

/** The target text of an answer: what a shot of the template labels for it. */
export function renderTarget(template: PromptTemplate, answer: string): string {
  return fill(template.target, 'answer', answer);
}

export function renderShot(template: PromptTemplate, example: Example): RenderedShot {
  let prompt = fill(template.prompt, 'input', example.input);
  prompt = fill(prompt, 'choices', (example.choices ?? []).join(', '));
  return { prompt, target: renderTarget(template, example.answer) };
}

/** The answer in a generated continuation of a prompt: the target's lead-in removed, cut where the target ends. */
export function parseAnswer(template: PromptTemplate, generated: string): string {
  const [before, after] = template.target.split('{answer}');
  let text = generated;
  if (before !== '' && text.startsWith(before)) text = text.slice(before.length);
  if (after !== '') {
    const end = text.indexOf(after);
    if (end >= 0) text = text.slice(0, end);
  }
  return text.trim();
}

const ANSWER_TARGET = ' {answer}\n';
const SHOT_SEPARATOR = '\n';

/** Default template of each task family: short prefixes, since the test model is tiny. */
export const FAMILY_TEMPLATES: Record<TaskFamily, PromptTemplate> = {
  classification: { id: 'classification', prompt: 'in: {input}\nout:', target: ANSWER_TARGET, separator: SHOT_SEPARATOR },
  summarization: { id: 'summarization', prompt: 'text: {input}\nkey:', target: ANSWER_TARGET, separator: SHOT_SEPARATOR },
  qa: { id: 'qa', prompt: '{input}\na:', target: ANSWER_TARGET, separator: SHOT_SEPARATOR },
  nli: { id: 'nli', prompt: '{input}\nlabel:', target: ANSWER_TARGET, separator: SHOT_SEPARATOR },
  math: { id: 'math', prompt: 'q: {input}\na:', target: ANSWER_TARGET, separator: SHOT_SEPARATOR },
};
