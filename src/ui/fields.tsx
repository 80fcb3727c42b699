import { useEffect, useId, useState, type ReactNode } from 'react';

export interface NumberFieldProps {
  label: ReactNode;
  value: number | undefined;
  onChange(value: number | undefined): void;
  min?: number;
  max?: number;
  step?: number | 'any';
  hint?: ReactNode;
  /** Empty is allowed and means undefined. */
  optional?: boolean;
  placeholder?: string;
  disabled?: boolean;
  testId?: string;
}

/** A number input that keeps what is typed until it reads as a number, then reports it. */
export function NumberField({ label, value, onChange, min, max, step = 1, hint, optional, placeholder, disabled, testId }: NumberFieldProps) {
  const id = useId();
  const [text, setText] = useState(value === undefined ? '' : String(value));
  useEffect(() => {
    setText((current) => (parse(current) === value ? current : value === undefined ? '' : String(value)));
  }, [value]);
  const commit = (next: string) => {
    setText(next);
    const parsed = parse(next);
    if (parsed === undefined) {
      if (optional) onChange(undefined);
    } else if (Number.isFinite(parsed)) {
      onChange(parsed);
    }
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        className="input"
        type="number"
        inputMode="decimal"
        value={text}
        min={min}
        max={max}
        step={step}
        placeholder={placeholder}
        disabled={disabled}
        aria-describedby={hint ? `${id}-hint` : undefined}
        data-testid={testId}
        onChange={(e) => commit(e.target.value)}
      />
      {hint && (
        <span className="field-hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
    </div>
  );
}

function parse(text: string): number | undefined {
  return text.trim() === '' ? undefined : Number(text);
}

export interface TextFieldProps {
  label: ReactNode;
  value: string;
  onChange(value: string): void;
  placeholder?: string;
  hint?: ReactNode;
  type?: 'text' | 'password';
  testId?: string;
}

export function TextField({ label, value, onChange, placeholder, hint, type = 'text', testId }: TextFieldProps) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        className="input"
        type={type}
        value={value}
        placeholder={placeholder}
        autoComplete="off"
        spellCheck={false}
        aria-describedby={hint ? `${id}-hint` : undefined}
        data-testid={testId}
        onChange={(e) => onChange(e.target.value)}
      />
      {hint && (
        <span className="field-hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
    </div>
  );
}
