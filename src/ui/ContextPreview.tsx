import { useEffect, useMemo } from 'react';
import { type ContextPreview as Preview, selectPreview, tokenizerKey, useRunSetupStore } from '../store/run-setup';
import { showBreaks } from '../util/format';
import './ContextPreview.css';

/** One packed training context of the current setup, wired to the run-setup store. */
export function ContextPreview() {
  const model = useRunSetupStore((s) => s.config.model);
  const { preview, message } = useRunSetupStore(selectPreview);
  const index = useRunSetupStore((s) => s.previewIndex);
  const modelKey = tokenizerKey(model);

  // The chosen model's tokenizer, loaded again when the model changes.
  useEffect(() => {
    void useRunSetupStore.getState().loadTokenizer();
  }, [modelKey]);

  return <ContextPreviewView preview={preview} message={message} index={index} onIndex={(i) => useRunSetupStore.getState().setPreviewIndex(i)} />;
}

export interface ContextPreviewViewProps {
  preview: Preview | null;
  /** Shown instead of the preview: loading, or why no context can be packed. */
  message: string | null;
  index: number;
  onIndex(index: number): void;
}

interface Segment {
  text: string;
  isTarget: boolean;
  shot: number | null;
}

/** Consecutive tokens of the same shot and kind, merged into one span. */
function segments(preview: Preview): Segment[] {
  const out: Segment[] = [];
  for (const t of preview.tokens) {
    const last = out[out.length - 1];
    if (last && last.isTarget === t.isTarget && last.shot === t.shot) last.text += t.text;
    else out.push({ text: t.text, isTarget: t.isTarget, shot: t.shot });
  }
  return out.filter((s) => s.text !== '');
}

export function ContextPreviewView({ preview, message, index, onIndex }: ContextPreviewViewProps) {
  const parts = useMemo(() => (preview ? segments(preview) : []), [preview]);
  return (
    <section className="panel setup-panel" aria-labelledby="preview-title">
      <div className="panel-head">
        <h2 className="panel-title" id="preview-title">
          Context preview
        </h2>
        <div className="pager" role="group" aria-label="Choose the context">
          <button type="button" className="icon-button" onClick={() => onIndex(index - 1)} disabled={index === 0} aria-label="Previous context">
            ‹
          </button>
          <span className="muted small-text" aria-live="polite">
            #{index + 1}
          </span>
          <button type="button" className="icon-button" onClick={() => onIndex(index + 1)} aria-label="Next context">
            ›
          </button>
        </div>
      </div>
      {preview && (
        <p className="field-hint">
          {preview.shots} shot{preview.shots === 1 ? '' : 's'} · {preview.length} of {preview.contextLength} tokens ·{' '}
          {preview.targetTokens} answer tokens · {preview.tasks.join(', ')}
        </p>
      )}
      {preview && Object.keys(preview.labelMaps).length > 0 && <LabelRenaming labelMaps={preview.labelMaps} />}
      {message ? (
        <p className={message.startsWith('Loading') ? 'muted' : 'alert alert-error'} data-testid="context-preview-message">
          {message}
        </p>
      ) : (
        <div className="context-text" data-testid="context-preview" aria-label="Packed context; answers are highlighted">
          {parts.map((part, i) =>
            part.isTarget ? (
              <TargetPart key={i} part={part} trained={preview?.trainedShot === null || part.shot === preview?.trainedShot} />
            ) : (
              <span
                key={i}
                className={part.shot === null ? 'ctx-other' : 'ctx-prompt'}
                data-shot={part.shot ?? undefined}
                title={part.shot === null ? undefined : `shot ${part.shot + 1}`}
              >
                {part.text}
              </span>
            ),
          )}
        </div>
      )}
      <p className="field-hint legend-line">
        <mark className="ctx-target">answer</mark> tokens are training targets
        {preview?.trainedShot !== null && preview?.trainedShot !== undefined && (
          <>
            ; <mark className="ctx-target ctx-watched">earlier answers</mark> are only watched (their loss is shown, not
            trained)
          </>
        )}
        . The rest is prompt. Point at a part to see its shot.
      </p>
    </section>
  );
}

function TargetPart({ part, trained }: { part: Segment; trained: boolean }) {
  const shot = (part.shot ?? 0) + 1;
  return (
    <mark
      className={trained ? 'ctx-target' : 'ctx-target ctx-watched'}
      data-target={trained ? 'true' : 'watched'}
      data-shot={part.shot ?? undefined}
      title={trained ? `answer of shot ${shot}` : `answer of shot ${shot} (not trained: last-answer objective)`}
    >
      {showBreaks(part.text)}
    </mark>
  );
}

/** The label renaming of the context shown, and why it is there. */
function LabelRenaming({ labelMaps }: { labelMaps: Preview['labelMaps'] }) {
  return (
    <div className="field-hint label-renaming" data-testid="label-renaming">
      <p>
        <strong>Labels are renamed in this context</strong>
        {Object.entries(labelMaps).map(([task, map]) => (
          <span key={task}>
            {' '}
            · {task}:{' '}
            {Object.entries(map)
              .map(([real, name]) => `${real} → ${name}`)
              .join(', ')}
          </span>
        ))}
      </p>
      <p>
        Every context gives the labels new random names, so the model cannot learn them by heart: it has to read the
        examples before each answer, which is what trains in-context learning. The data is not broken. To keep the real
        labels, untick "Rename labels in every context" above.
      </p>
    </div>
  );
}
