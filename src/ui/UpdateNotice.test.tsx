import { renderToStaticMarkup } from 'react-dom/server';
import { expect, test } from 'vitest';
import { UpdateNoticeView, type UpdateNoticeViewProps } from './UpdateNotice';

const render = (props: Partial<UpdateNoticeViewProps>) =>
  renderToStaticMarkup(<UpdateNoticeView waiting busy={false} reloading={false} onReload={() => {}} onDismiss={() => {}} {...props} />);

test('nothing while no new version waits', () => {
  expect(render({ waiting: false })).toBe('');
});

test('"A new version is ready — reload", with the button enabled when nothing trains', () => {
  const html = render({});
  expect(html).toContain('data-testid="update-notice"');
  expect(html).toContain('A new version is ready — reload.');
  expect(html).toMatch(/<button type="button" data-testid="update-reload">Reload<\/button>/);
});

test('while a run trains, the reload waits for it', () => {
  const html = render({ busy: true });
  expect(html).toContain('reload once training is done');
  expect(html).toMatch(/<button[^>]*disabled=""[^>]*data-testid="update-reload"/);
});
