/*
 * Switchboard sidebar: the live call card.
 *
 * Shown on the ticket of a caller the voice bot put through to a person while the call
 * lasts: the running transcript (redacted by Switchboard), the caller's intent and mood,
 * answers for what the caller just asked, next steps, and the script the policy
 * requires, ticked off as the agent says it. It polls GET /api/sidebar/tickets/<id>/call
 * about once a second through Zendesk's proxy (a stream cannot pass it) and stops when
 * the call has ended. app.js hands it its helpers (t, el, the proxied request), so
 * every text is from the translation file and all backend text is set as text.
 */
(function () {
  'use strict';

  var POLL_MS = 1000;
  var timer = null;
  var shown = null;  // the card last drawn, as JSON
  var helpers = null;

  function $(id) { return document.getElementById(id); }

  function item(className, children) { return helpers.el('li', { className: className }, children); }

  function renderTranscript(lines) {
    var list = helpers.el('ol', { className: 'call-transcript', attrs: { 'aria-live': 'polite' } }, []);
    if (!lines.length) {
      list.appendChild(item('call-line call-line--empty', [helpers.t('call_no_lines')]));
    }
    lines.forEach(function (line) {
      var who = line.speaker === 'agent' ? 'agent' : 'customer';
      list.appendChild(item('call-line call-line--' + who, [
        helpers.el('span', { className: 'call-speaker' }, [helpers.t('call_speaker_' + who) + ': ']),
        helpers.el('span', { className: 'call-text' }, [String(line.text || '')])
      ]));
    });
    return list;
  }

  function renderChecklist(items) {
    var list = helpers.el('ul', { className: 'call-checklist' }, []);
    items.forEach(function (entry) {
      var state = entry.done ? (entry.late ? 'late' : 'said') : 'missing';
      var word = { said: 'call_said', late: 'call_said_late', missing: 'call_not_said' }[state];
      var line = item('call-check call-check--' + state, [
        helpers.el('span', { className: 'call-check-mark', attrs: { 'aria-hidden': 'true' } },
          [entry.done ? '\u2713' : '\u25cb']),
        String(entry.label || entry.id), ' ',
        helpers.el('span', { className: 'muted small' }, ['(' + helpers.t(word) + ')'])
      ]);
      line.setAttribute('data-script-line', String(entry.id));
      line.setAttribute('data-done', entry.done ? 'true' : 'false');
      list.appendChild(line);
    });
    return list;
  }

  function renderSuggestions(suggestions) {
    var list = helpers.el('ol', { className: 'call-suggestions' }, []);
    if (!suggestions.length) {
      list.appendChild(item('muted', [helpers.t('call_no_suggestions')]));
    }
    suggestions.forEach(function (suggestion) {
      var sources = (suggestion.sources || []).map(function (source) {
        var url = helpers.safeHttpUrl(source.url);
        var title = String(source.title || source.url || '');
        return url ? helpers.el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, [title])
          : helpers.el('span', {}, [title]);
      });
      var row = item('call-suggestion', [helpers.el('p', { className: 'suggestion-text' }, [String(suggestion.text)])]);
      if (sources.length) { row.appendChild(helpers.el('p', { className: 'small' }, sources)); }
      list.appendChild(row);
    });
    return list;
  }

  function heading(key) { return helpers.el('h3', { className: 'call-subheading' }, [helpers.t(key)]); }

  function render(card) {
    var section = $('call-card');
    var body = $('call');
    if (!section || !body) { return; }
    if (!card) { section.hidden = true; shown = null; return; }
    // Redrawn only when something changed: an agent selecting or scrolling the
    // transcript keeps their place between polls.
    var drawn = JSON.stringify(card);
    if (drawn === shown) { return; }
    shown = drawn;
    $('call-heading').textContent = helpers.t('call_heading');
    helpers.clear(body);
    body.setAttribute('data-status', card.status);
    var intent = (card.intent && card.intent.name) || helpers.t('not_known');
    var mood = (card.sentiment && card.sentiment.label) || helpers.t('not_known');
    body.appendChild(helpers.el('p', { className: 'call-status call-status--' + card.status },
      [helpers.t(card.status === 'ended' ? 'call_ended' : 'call_live')]));
    body.appendChild(helpers.el('dl', { className: 'facts' }, [
      helpers.el('dt', {}, [helpers.t('call_intent')]), helpers.el('dd', { className: 'call-intent' }, [intent]),
      helpers.el('dt', {}, [helpers.t('call_sentiment')]), helpers.el('dd', { className: 'call-mood' }, [mood])
    ]));
    body.appendChild(heading('call_checklist'));
    body.appendChild(renderChecklist(card.checklist || []));
    body.appendChild(heading('call_suggestions'));
    body.appendChild(renderSuggestions(card.suggestions || []));
    if ((card.actions || []).length) {
      body.appendChild(heading('call_next_actions'));
      var actions = helpers.el('ul', { className: 'call-actions' }, []);
      card.actions.forEach(function (action) { actions.appendChild(item('', [String(action.label)])); });
      body.appendChild(actions);
    }
    body.appendChild(heading('call_transcript'));
    body.appendChild(renderTranscript(card.transcript || []));
    section.hidden = false;
    helpers.resize();
  }

  function poll() {
    timer = window.setTimeout(function () {
      helpers.fetch().then(function (card) {
        render(card);
        if (card && card.status !== 'ended') { poll(); } else { timer = null; }
      }, function () {
        helpers.announce(helpers.t('call_update_failed'));
        poll();
      });
    }, POLL_MS);
  }

  window.SwitchboardCallCard = {
    // `card`: the ticket's call (GET /api/sidebar/tickets/<id>'s "call"), or null.
    show: function (card, given) {
      helpers = given;
      if (timer !== null) { window.clearTimeout(timer); timer = null; }
      render(card);
      if (card && card.status !== 'ended') { poll(); }
    }
  };
})();
