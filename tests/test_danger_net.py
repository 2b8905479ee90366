"""The danger net (bot/safety/net.py) over its lexicon (data/safety/danger.yml).

Disclosures are worded differently from the lexicon (typos, dialects, Arabizi, diacritics, tatweel,
Arabic-Indic digits, mixed script): a test that only repeats a lexicon phrase proves nothing.
The expected kind is given where the message is about one kind only; None means "any kind".
"""

from __future__ import annotations

import re
import time
from typing import Optional

import pytest
import yaml

from bot.language import normalize_for_matching
from bot.safety.net import DANGER_KINDS, DEFAULT_LEXICON, DangerNet


@pytest.fixture(scope="module")
def net() -> DangerNet:
    return DangerNet.load()


# --------------------------------------------------------------------------------------------------
# (a) disclosures that must fire
# --------------------------------------------------------------------------------------------------

EN_DISCLOSURES = [
    # blackmail
    ("some guy on snap says he'll send my pics to my whole school if I don't pay him", "blackmail"),
    ("he's blakmailing me with a video from our call", "blackmail"),
    ("My daughter is being blackmailed by someone she met on Instagram", "blackmail"),
    ("a man keeps demanding 500 dollars or he will share my photos", "blackmail"),
    ("pls help someone got my nudes and says hes going to post them", "blackmail"),
    ("I sent a guy pics and now he wants more or he'll leak them", "blackmail"),
    ("my son got sextorted on discord last night", "blackmail"),
    ("they screen recorded our video call and now they want money", "blackmail"),
    ("if i dont send more he said he'll post everything", "blackmail"),
    ("My friend is getting blackmailed, what do I do??", "blackmail"),
    ("this account threatened to expose my chats to my parents", "blackmail"),
    ("im being blackmaild", "blackmail"),
    ("sum1 is blackmailng me", "blackmail"),
    ("HE IS BLACKMAILING ME 😭😭", "blackmail"),
    ("my ex has my private photos and says he'll send them to everyone", "blackmail"),
    ("someone hacked my insta and wants $200 or he will post my dms", "blackmail"),
    ("she said send her money or she will tell my mom about the pictures", "blackmail"),
    ("i'm a victim of sextortion", "blackmail"),
    # threat
    ("He's threatening me", "threat"),
    ("a boy from school keeps threatening to beat me up", "threat"),
    ("I'm getting death threats on tiktok", "threat"),
    ("he said he will kill me if i tell anyone", "threat"),
    ("someone knows where i live and keeps messaging me", "threat"),
    ("they said they're coming to my school to hurt me", "threat"),
    ("i'm scared he'll find me", "threat"),
    ("my ex is stalking me", "threat"),
    ("this guy thretened my little brother", "threat"),
    ("hes threatning me on whatsapp", "threat"),
    ("the kids at school said they'll jump me after class", "threat"),
    ("my son is being bullied and they said they will stab him", "threat"),
    # abuse
    ("My uncle touches me when nobody is home", "abuse"),
    ("my stepdad hits me and my sister", "abuse"),
    ("dad beat me with a belt yesterday", "abuse"),
    ("i was raped last year and never told anyone", "abuse"),
    ("a teacher touched my daughter inappropriately", "abuse"),
    ("my coach keeps sending me sexual messages", "abuse"),
    ("an old man on roblox sends me dirty pics", "abuse"),
    ("he sent me a pic of his private parts", "abuse"),
    ("my brother molests me", "abuse"),
    ("my mom's boyfriend is abusive to us", "abuse"),
    ("she's being sexually harassed by her boss", "abuse"),
    ("my son was groomed by a man online", None),
    ("he tuched me where he shouldnt", "abuse"),
    ("my dad punches my mom when he's angry", "abuse"),
    ("i don't feel safe at home", "abuse"),
    # coercion
    ("he wants me to send pics of my body", "coercion"),
    ("he forced me to take off my clothes on camera", "coercion"),
    ("she keeps asking me for nudes", "coercion"),
    ("he told me not to tell my parents about us", "coercion"),
    ("he says it's our little secret", "coercion"),
    ("they pressured me into sending a video", "coercion"),
    ("i said no but he kept asking", "coercion"),
    ("he wants me to turn on my cam and undress", "coercion"),
    # meeting
    ("a guy from fortnite wants to meet me this weekend", "meeting"),
    ("I'm meeting him tomorrow, we met on discord", "meeting"),
    ("my 12 yo is talking to a 25 year old man on snapchat", "meeting"),
    ("this guy i met online wants my address", "meeting"),
    ("he's 19 and asked me to keep our chats a secret, we talk on roblox", "meeting"),
    ("my online boyfriend says he'll pick me up after school", "meeting"),
    ("someone on roblox asked what school i go to", "meeting"),
    ("my daughter is planning to meet a guy she met on instagram", "meeting"),
    ("a man i don't know asked to meet me at the mall", "meeting"),
    # self-harm
    ("I want to die", "self_harm"),
    ("i wanna kms", "self_harm"),
    ("i keep thinking about ending my life", "self_harm"),
    ("my friend told me she cuts herself", "self_harm"),
    ("sometimes i think everyone would be better off without me", "self_harm"),
    ("i don't want to live anymore", "self_harm"),
    ("Im so done. I just want to disappear forever", "self_harm"),
    ("thinking of suicide lately", "self_harm"),
    ("i feel suicidal", "self_harm"),
    ("i am going to overdose tonight", "self_harm"),
    ("I've been self-harming again", "self_harm"),
    ("there's no point in living", "self_harm"),
    ("i want to kil myslef", "self_harm"),
    ("my daughter said she wants to end it all", "self_harm"),
    ("I wish I was never born", "self_harm"),
    ("life isn't worth living anymore", "self_harm"),
    ("i'm thinking about sucide", "self_harm"),
    ("I think my daughter is cutting herself", "self_harm"),
    ("wnat to die tbh", "self_harm"),
]

AR_DISCLOSURES = [
    # blackmail
    ("في واحد يبتزني بصوري وش اسوي", "blackmail"),
    ("بنتي تنبتز من شخص في السناب", "blackmail"),
    ("انبتزززيت من حساب وهمي", "blackmail"),
    ("ابتزوا صاحبتي وطلبوا فلوس", "blackmail"),
    ("واحد يبتذني ويقول بينشر الصور", "blackmail"),
    ("يهددني ينشر صوري اذا ما ارسلت فلوس", "blackmail"),
    ("شخص يهدد بنتي بنشر صورها", "blackmail"),
    ("ابني تعرض لابتزاز في لعبة فورتنايت", "blackmail"),
    ("قاعد يبتزنا بمقاطع", "blackmail"),
    ("بيفضحني قدام اهلي لو ما سويت اللي يبيه", "blackmail"),
    ("عنده صوري الخاصة ويطلب مبلغ", "blackmail"),
    ("يَبْتَزُّنِي", "blackmail"),
    ("يـــبـــتـــزنـــي", "blackmail"),
    ("طلب مني ٥٠٠ ريال والا بينشر المحادثات", "blackmail"),
    ("في واحد بيبتزني على النت", "blackmail"),
    ("اتبتزيت من واحد على الفيس", "blackmail"),
    # threat
    ("يهددوني بالقتل", "threat"),
    ("واحد في اللعبه قال بيذبحني", "threat"),
    ("فيه شخص يلاحقني ويعرف بيتي", "threat"),
    ("وصلتني رسائل تهديد من رقم غريب", "threat"),
    ("انا مهددة وخايفة", "threat"),
    ("خايفه يجي بيتنا", "threat"),
    ("في واحد بيهددني وبيقول هيفضحني", None),
    ("عم يهددني شب من المدرسة", "threat"),
    ("هددوا اختي الصغيره", "threat"),
    ("بيهددني يكسر راسي", "threat"),
    # abuse
    ("عمي يتحرش فيني", "abuse"),
    ("ابوي يضربني كل يوم", "abuse"),
    ("المدرس لمسني بطريقه غريبه", "abuse"),
    ("اتحرش بيا واحد في الشارع", "abuse"),
    ("اخوي الكبير يلمس جسمي", "abuse"),
    ("تعرضت للتحرش من قريبي", "abuse"),
    ("اغتصبوني", "abuse"),
    ("واحد يرسل لبنتي صور اباحيه", "abuse"),
    ("يكلمني كلام جنسي في الديسكورد", "abuse"),
    ("اهلي يضربوني ويحبسوني", "abuse"),
    ("زوج امي يضرب امي", "abuse"),
    ("ما احس بامان في البيت", "abuse"),
    ("تم الاعتداء علي من شخص اعرفه", "abuse"),
    ("اعتدى على بنتي واحد من الجيران", "abuse"),
    ("بيتحرشوا بيا في المدرسه", "abuse"),
    # coercion
    ("يبيني ارسل له صور لجسمي", "coercion"),
    ("يجبرني افتح الكاميرا", "coercion"),
    ("قال لي لا تقولين لاهلك", "coercion"),
    ("يقول خلها سر بيننا", "coercion"),
    ("غصب عني ارسلت الصور", "coercion"),
    ("عايزني ابعتله صور", "coercion"),
    ("بدو ياني ابعتلو صور", "coercion"),
    ("يطلب مني صوري كل يوم", "coercion"),
    ("اجبروني اشلح ملابسي قدام الكاميرا", "coercion"),
    # meeting
    ("واحد من اللعبه يبي يشوفني بكره", "meeting"),
    ("تعرفت على شاب في سناب ويبي نتقابل", "meeting"),
    ("بنتي بتقابل واحد تعرفت عليه من التيك توك", "meeting"),
    ("واحد عمره ٢٥ سنه يكلم بنتي في الانستا", "meeting"),
    ("رجال كبير يكلم ولدي في ببجي ويبي عنوان بيتنا", "meeting"),
    ("سالني وين ساكن وفي اي مدرسه", "meeting"),
    ("عايز يقابلني واحد من الفيسبوك", "meeting"),
    ("صاحبي في الديسكورد قال بيجي ياخذني من المدرسه", "meeting"),
    # self-harm
    ("ابي انتحر", "self_harm"),
    ("والله تعبت من حياتي وابي اموت", "self_harm"),
    ("مابي اعيش خلاص", "self_harm"),
    ("افكر اذبح نفسي", "self_harm"),
    ("جرحت يدي بالموس عمدا", "self_harm"),
    ("بدي موت", "self_harm"),
    ("عايزة اموت", "self_harm"),
    ("انا ما عدت اقدر اعيش", "self_harm"),
    ("ليتني ما انولدت", "self_harm"),
    ("أريد أن أنهي حياتي", "self_harm"),
    ("صديقتي تقول انها تبي تنتحر", "self_harm"),
    ("ولدي يجرح نفسه", "self_harm"),
    ("الحياة مالها معنى", "self_harm"),
    ("محد بيفقدني لو مت", "self_harm"),
    ("أفكر في الانتحار كثير", "self_harm"),
    ("بنتحرررر", "self_harm"),
    ("رح اقتل حالي", "self_harm"),
    ("هموت نفسي", "self_harm"),
    # Arabizi
    ("7ad ybtzni", "blackmail"),
    ("wa7ed yebtazni b sowari", "blackmail"),
    ("abi amoot", "self_harm"),
    ("ana ant7r", "self_harm"),
    ("fi wa7ed yhadedni", "threat"),
    ("ybi yshofni wa7d mn el game", "meeting"),
    ("abooy ydrbni", "abuse"),
    ("yt7arash fini", "abuse"),
    ("t3bt mn el7yah", "self_harm"),
    ("ma abi a3eesh", "self_harm"),
    # mixed script, Arabic-Indic digits
    ("he is يهددني", "threat"),
    ("في واحد blackmailing me في الانستا", "blackmail"),
    ("رجال عمره ٣٠ يكلمني في سناب", "meeting"),
]


def _lexicon() -> dict:
    with open(DEFAULT_LEXICON, encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_disclosure_sets_are_large_enough() -> None:
    assert len(EN_DISCLOSURES) >= 60
    assert len(AR_DISCLOSURES) >= 60
    assert len(EN_BENIGN) >= 60
    assert len(AR_BENIGN) >= 60


def test_disclosures_are_not_verbatim_lexicon_phrases() -> None:
    phrases = {
        p.strip().lower()
        for kinds in _lexicon()["phrases"].values()
        for items in kinds.values()
        for p in items
    }
    for text, _ in EN_DISCLOSURES + AR_DISCLOSURES:
        assert text.strip().lower() not in phrases, text


@pytest.mark.parametrize(("text", "kind"), EN_DISCLOSURES)
def test_english_disclosure_fires(net: DangerNet, text: str, kind: Optional[str]) -> None:
    found = net.assess(text)
    assert found is not None, f"missed: {text!r}"
    if kind:
        assert found.kind == kind, f"{text!r} -> {found}"


@pytest.mark.parametrize(("text", "kind"), AR_DISCLOSURES)
def test_arabic_disclosure_fires(net: DangerNet, text: str, kind: Optional[str]) -> None:
    found = net.assess(text)
    assert found is not None, f"missed: {text!r}"
    if kind:
        assert found.kind == kind, f"{text!r} -> {found}"


def test_self_harm_maps_to_its_own_intent(net: DangerNet) -> None:
    found = net.assess("i want to die")
    assert found is not None and found.intent == "disclose_self_harm"
    found = net.assess("he's blackmailing me")
    assert found is not None and found.intent == "disclose_harm"


# --------------------------------------------------------------------------------------------------
# (b) ordinary messages that must not fire
# --------------------------------------------------------------------------------------------------

EN_BENIGN = [
    "hi",
    "hello there!",
    "good morning",
    "thank you so much, that helped",
    "what is sextortion",
    "What is sextortion and how does it work?",
    "how do I protect my son from blackmail",
    "how to protect my daughter from being blackmailed online",
    "what should I do if my child is being bullied online",
    "what to do if someone threatens you online",
    "what is the punishment for blackmail in saudi arabia",
    "is blackmail a crime",
    "how do i report blackmail",
    "how do scammers blackmail kids",
    "what is grooming",
    "how do predators groom children online",
    "what are the signs of grooming",
    "how can I tell if someone is grooming my child",
    "what are the signs my child is being groomed",
    "how can I talk to my daughter about online predators",
    "can you tell me about cyberbullying",
    "kids at school call me names and laugh at me",
    "my son was bullied at school, how can I help him",
    "how much screen time is ok for a 7 year old",
    "is roblox safe for kids",
    "is it safe to meet online friends in person",
    "what is the best parental control app",
    "my son plays fortnite all day is that bad",
    "how do I report a fake account on instagram",
    "how to set up privacy settings on tiktok",
    "what does kys mean",
    "my daughter wants a phone for her birthday",
    "what are the warning signs of self harm in teenagers",
    "suicide prevention resources for schools",
    "how do I stop my kid from sharing photos online",
    "should I let my 10 year old use snapchat",
    "what age can kids use instagram",
    "how to teach kids about stranger danger",
    "my son got hit by a ball at football practice",
    "my friend beat me at chess again",
    "she hit me up on snap yesterday",
    "I got kicked out of the discord server",
    "my brother is 25 and lives in dubai",
    "how do I block someone on whatsapp",
    "I want to dye my hair purple",
    "i could die of embarrassment lol",
    "this video really touched me",
    "his story touched my heart",
    "I'm a parent of two teenagers",
    "I am a teacher looking for lesson ideas on online safety",
    "I'm 14 and I want to learn how to stay safe online",
    "can you recommend apps to limit screen time",
    "my kids argue about the tablet every night",
    "is discord safe for a 13 year old",
    "my teen spends hours chatting with friends on whatsapp",
    "how do I talk to my son about nudes",
    "what should I teach my kids about sending nudes",
    "how to keep my child safe from online predators",
    "my daughter is addicted to tiktok",
    "what's a good age for a first smartphone",
    "how do I turn on safe search on youtube",
    "what if my child sees something scary online",
    "should I read my teenager's messages",
    "how can I make my password stronger",
    "my son wants to start a youtube channel, is it safe",
    "I will post my pics on instagram later, is that ok?",
    "My son said he will post videos on YouTube, what should I check?",
    "is it ok to post my kids photos on facebook",
    "how do I know if a game is age appropriate",
    "what is a VPN",
    "tell me about online gaming safety",
    "bye",
    "🙂👍",
    "ok",
]

AR_BENIGN = [
    "السلام عليكم",
    "مرحبا",
    "صباح الخير",
    "شكرا لك ما قصرت",
    "وش يعني ابتزاز",
    "كيف احمي بنتي من التحرش",
    "ما هو الابتزاز الالكتروني؟",
    "كيف احمي ولدي من الابتزاز",
    "ما عقوبة الابتزاز في السعودية",
    "كيف ابلغ عن ابتزاز",
    "كم ساعة مسموح للطفل يلعب بالجوال",
    "هل لعبة روبلوكس آمنة للأطفال",
    "كيف افعل الرقابة الابوية على الايباد",
    "ولدي مدمن على الالعاب",
    "ما هي علامات التحرش بالاطفال",
    "كيف اعرف ان ولدي يتعرض للتنمر",
    "كيف اعرف ان بنتي تتعرض للابتزاز",
    "كيف ابلغ عن حساب مزعج في تويتر",
    "وش هو التنمر الالكتروني",
    "انا معلمة واحتاج نصائح للطالبات عن الامان في النت",
    "انا ام لثلاث اطفال",
    "ابي اعرف عن الخصوصية في السناب",
    "وش افضل تطبيق للرقابة",
    "كيف اكلم ولدي عن الغرباء في النت",
    "هل مقابلة اصدقاء النت آمنة؟",
    "ابي اموت من الضحك",
    "اموت في البيتزا",
    "انتظر ردك",
    "ولدي يلعب ببجي مع اصحابه",
    "كيف اخلي ولدي يقلل من الجوال",
    "هل التيك توك مناسب لعمر ١٠ سنوات",
    "ولدي عمره ١٣ ويلعب فورتنايت",
    "كيف احمي عيالي من المتحرشين في الالعاب",
    "وش الفرق بين التنمر والتحرش",
    "ابي اعرف كيف اكلم بنتي عن الابتزاز",
    "هل يجوز نشر صور الاطفال في الانستقرام",
    "ولدي يقول ان صاحبه يضربه بالمزح",
    "ما هو الانتحار وكيف نوعي الطلاب عنه",
    "علامات الانتحار عند المراهقين",
    "كيف اتعامل مع مبتز",
    "وش اسوي عشان ولدي ما ينبتز",
    "ما هي اضرار الالعاب الالكترونية",
    "بنتي تبي جوال وعمرها ٩ سنوات",
    "هل الواتساب آمن",
    "كيف اغير كلمة المرور",
    "وش يعني جرومنق",
    "كيف اعلم ولدي ما يرسل صوره للغرباء",
    "ما هي اعراض ادمان الجوال",
    "ابي نصايح لحماية الاطفال من المحتوى الضار",
    "ايش الالعاب المناسبه لعمر ٨ سنوات",
    "ولدي يحب يلعب ماينكرافت مع عياله خالته",
    "كيف افعل البحث الآمن في قوقل",
    "انا طالبة في المتوسط وابي اعرف عن الامان",
    "الله يعطيك العافية",
    "مع السلامة",
    "ممكن تساعدني",
    "وش تسوي انت",
    "هل انت انسان ولا روبوت",
    "الواجبات كثيرة مرة اليوم",
    "ما هي عقوبة التحرش في النظام السعودي",
    "كيف اكتشف اذا احد يتحرش بالاطفال في المدرسة",
    "هل يسمح بالتصوير في المدارس",
    "اخوي فاز علي في فيفا",
    "salam",
    "shlonk",
    "wesh y3ni ebtzaz",
    "abi al3ab fortnite",
    "كيف احمي بنتي من الابتزاز الالكتروني والتحرش",
    "مسابقة الرسم في المدرسة بكرة",
]


@pytest.mark.parametrize("text", EN_BENIGN)
def test_english_benign_does_not_fire(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None, f"false alarm: {text!r} -> {net.assess(text)}"


@pytest.mark.parametrize("text", AR_BENIGN)
def test_arabic_benign_does_not_fire(net: DangerNet, text: str) -> None:
    assert net.assess(text) is None, f"false alarm: {text!r} -> {net.assess(text)}"


# --------------------------------------------------------------------------------------------------
# (c) the loader
# --------------------------------------------------------------------------------------------------


def test_loader_rejects_an_unknown_kind_in_patterns() -> None:
    with pytest.raises(ValueError):
        DangerNet.from_dict({"patterns": {"en": {"bullying": ["bull(y|ied) me"]}}})


def test_loader_rejects_an_unknown_kind_in_phrases() -> None:
    with pytest.raises(ValueError):
        DangerNet.from_dict({"phrases": {"ar": {"danger": ["يتنمر علي"]}}})


def test_lexicon_uses_only_known_kinds_and_compiles() -> None:
    data = _lexicon()
    assert set(data) == {"patterns", "phrases"}
    for layer in ("patterns", "phrases"):
        assert set(data[layer]) == {"en", "ar"}
        for kinds in data[layer].values():
            assert set(kinds) <= set(DANGER_KINDS)
    for kind in DANGER_KINDS:
        assert data["patterns"]["en"].get(kind), kind
        assert data["patterns"]["ar"].get(kind), kind
    for kinds in data["patterns"].values():
        for items in kinds.values():
            for pattern in items:
                re.compile(pattern)


def test_patterns_avoid_upper_case_escapes() -> None:
    # The loader lower-cases every pattern, which would turn \S \W \D \B into \s \w \d \b.
    for kinds in _lexicon()["patterns"].values():
        for items in kinds.values():
            for pattern in items:
                assert not re.search(r"\\[SWDBAZ]", pattern), pattern


# --------------------------------------------------------------------------------------------------
# (d) degenerate input, (e) long input
# --------------------------------------------------------------------------------------------------

LONG_BENIGN = ("how do I keep my kids safe online and what apps are good for them " * 200)[:10_000]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\n\t  \n",
        "😀😀😀🙏🏽",
        "؟؟؟ !!! ...",
        "a" * 10_000,
        LONG_BENIGN,
        ("كيف احمي اطفالي من مخاطر الانترنت " * 400)[:10_000],
        "😭" * 10_000,
    ],
)
def test_degenerate_or_long_text_returns_none_quickly(net: DangerNet, text: str) -> None:
    start = time.perf_counter()
    assert net.assess(text) is None
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    ("tail", "kind"),
    [
        (" and now a man from roblox is blackmailing me", "blackmail"),
        (" i want to kill myself", "self_harm"),
        (" وفي واحد يبتزني", "blackmail"),
        (" ابي انتحر", "self_harm"),
    ],
)
def test_disclosure_at_the_end_of_a_long_message_fires(net: DangerNet, tail: str, kind: str) -> None:
    text = LONG_BENIGN[: 10_000 - len(tail)] + tail
    assert len(text) == 10_000
    start = time.perf_counter()
    found = net.assess(text)
    assert time.perf_counter() - start < 2.0
    assert found is not None and found.kind == kind
