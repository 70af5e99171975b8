/*
 * Switchboard sidebar: the wrap-up card.
 *
 * When the ticket's conversation has ended, Switchboard filed it under a disposition
 * code from the account's own taxonomy (switchboard/data/dispositions.yaml or the
 * account's file), chosen from the intent and how it ended, with a confidence. The
 * agent sees the code and how sure the choice was, and can pick another code: the
 * correction is posted to POST /api/sidebar/tickets/<id>/disposition, which writes it
 * to the ticket and stores it, and agreeing corrections for an intent change the later
 * choices. app.js hands it its helpers (t, el, clear, announce, save, reason), so every
 * text is from the translation file and all backend text is set as text.
 */
(function () {
  'use strict';

  var helpers = null;

  function $(id) { return document.getElementById(id); }

  function optionLabel(option) {
    var code = String(option.code);
    return option.description ? String(option.description) + ' (' + code + ')' : code;
  }

  function render(disposition, message) {
    var section = $('disposition-card');
    var body = $('disposition');
    if (!section || !body) { return; }
    if (!disposition) { section.hidden = true; return; }
    $('disposition-heading').textContent = helpers.t('disposition_heading');
    helpers.clear(body);
    var code = String(disposition.code);
    var how = disposition.corrected_by ? helpers.t('disposition_corrected')
      : helpers.t('disposition_confidence', { percent: Math.round(100 * Number(disposition.confidence || 0)) });
    var select = helpers.el('select', { id: 'disposition-select', name: 'disposition' }, []);
    (disposition.options || []).forEach(function (option) {
      var item = helpers.el('option', { value: String(option.code) }, [optionLabel(option)]);
      if (String(option.code) === code) { item.selected = true; }
      select.appendChild(item);
    });
    var button = helpers.el('button', { type: 'button', className: 'button button--primary',
      attrs: { 'data-action': 'save-disposition' } }, [helpers.t('disposition_save')]);
    var result = helpers.el('p', { id: 'disposition-result', className: 'muted small',
      attrs: { 'aria-live': 'polite' } }, message ? [message] : []);
    [
      helpers.el('p', { id: 'disposition-current', attrs: { 'data-code': code } }, [
        helpers.t('disposition_chosen', { description: String(disposition.description || code), code: code })]),
      helpers.el('p', { id: 'disposition-how', className: 'muted small',
        attrs: { 'data-corrected': disposition.corrected_by ? 'true' : 'false' } }, [how]),
      helpers.el('label', { htmlFor: 'disposition-select', className: 'small' }, [helpers.t('disposition_pick')]),
      select,
      helpers.el('div', { className: 'button-row' }, [button]),
      result
    ].forEach(function (node) { body.appendChild(node); });

    var busy = false;
    button.addEventListener('click', function () {
      if (busy) { return; }
      var picked = select.value;
      if (picked === code) {
        result.textContent = helpers.t('disposition_same');
        return;
      }
      busy = true;
      button.setAttribute('aria-busy', 'true');
      result.textContent = helpers.t('disposition_saving');
      helpers.save(picked).then(function (answer) {
        var chosen = (disposition.options || []).filter(function (o) { return String(o.code) === answer.disposition; })[0];
        var saved = helpers.t('disposition_saved', { code: String(answer.disposition) });
        render({ code: answer.disposition, description: chosen ? chosen.description : '', confidence: answer.confidence,
          corrected_by: answer.corrected_by, intent: disposition.intent, options: disposition.options }, saved);
        helpers.announce(saved);
      }, function (failure) {
        busy = false;
        button.removeAttribute('aria-busy');
        result.textContent = helpers.t('disposition_failed', { reason: helpers.reason(failure) });
        helpers.announce(result.textContent);
      });
    });
    section.hidden = false;
    helpers.resize();
  }

  window.SwitchboardDisposition = {
    // `disposition`: GET /api/sidebar/tickets/<id>'s "disposition" (null before the conversation ends).
    show: function (disposition, given) {
      helpers = given;
      render(disposition, '');
    }
  };
})();
